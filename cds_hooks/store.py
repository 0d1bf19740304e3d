"""Persistence of feedback, the hook audit trail and the JWT replay cache (SQLAlchemy 2.0).

SQLite by default (``settings.database_url``; the folder is created), PostgreSQL through
``NELM_DATABASE_URL``. The schema is owned by Alembic (``cds_hooks/migrations``, first revision
``0001_initial``); ``Store.upgrade()`` applies it at app start and ``nelm-cds db upgrade`` from the
command line. Nothing here stores PHI or tokens: patients appear only as keyed hashes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from cds_hooks.config import Settings

__all__ = [
    "AuditRecord",
    "FeedbackRecord",
    "OrderAlert",
    "Store",
    "alembic_config",
    "init_app",
    "metadata",
    "normalise_url",
    "store_of",
    "upgrade_main",
]

log = logging.getLogger("nelm.cds.store")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

metadata = sa.MetaData()

feedback_table = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.String(64), nullable=False),
    sa.Column("card_uuid", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("outcome_timestamp", sa.DateTime(), nullable=False),
    sa.Column("accepted_suggestions", sa.Text(), nullable=False, server_default="[]"),
    sa.Column("override_reason_system", sa.String(255)),
    sa.Column("override_reason_code", sa.String(128)),
    sa.Column("override_reason_display", sa.String(512)),
    sa.Column("user_comment", sa.Text()),
    sa.Column("received_at", sa.DateTime(), nullable=False),
    # Feedback on a card uuid no audit row issued (0003): kept, never lost, but marked.
    sa.Column("unknown_card", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("service_id", "card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_item"),
)

hook_audit_table = sa.Table(
    "hook_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(), nullable=False),
    sa.Column("service_id", sa.String(64), nullable=False),
    sa.Column("hook", sa.String(64), nullable=False),
    sa.Column("hook_instance", sa.String(128)),
    sa.Column("patient_hash", sa.String(64)),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("card_count", sa.Integer, nullable=False),
    sa.Column("statuses", sa.Text(), nullable=False, server_default="{}"),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("fhir_queries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fhir_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("card_uuids", sa.Text(), nullable=False, server_default="[]"),  # 0003: the cards answered
    sa.Index("ix_hook_audit_at", "at"),
)

hook_audit_card_table = sa.Table(
    "hook_audit_card",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("audit_id", sa.Integer, sa.ForeignKey("hook_audit.id", ondelete="CASCADE"), nullable=False),
    sa.Column("service_id", sa.String(64), nullable=False),
    sa.Column("card_uuid", sa.String(64), nullable=False, index=True),
)

order_alert_table = sa.Table(
    "order_alert",  # 0004: critical order cards, for override silencing across order-select → order-sign
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.String(64), nullable=False),
    sa.Column("card_uuid", sa.String(64), nullable=False),
    sa.Column("order_key", sa.String(64), nullable=False, index=True),
    sa.Column("alert", sa.String(512), nullable=False),
    sa.Column("user_ref", sa.String(255)),
    sa.Column("issued_at", sa.DateTime(), nullable=False),
    sa.UniqueConstraint("card_uuid", name="uq_order_alert_card_uuid"),
)

jwt_replay_table = sa.Table(
    "jwt_replay",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("issuer", sa.String(512), nullable=False),
    sa.Column("jti", sa.String(256), nullable=False),
    sa.Column("expires_at", sa.DateTime(), nullable=False),
    sa.UniqueConstraint("issuer", "jti", name="uq_jwt_replay_issuer_jti"),
    sa.Index("ix_jwt_replay_expires_at", "expires_at"),
)

# The statements of the hot path (every hook call, every verified JWT), built once.
_INSERT_AUDIT = hook_audit_table.insert()
_INSERT_AUDIT_CARD = hook_audit_card_table.insert()
_INSERT_JTI = jwt_replay_table.insert()


def _utc_naive(value: dt.datetime) -> dt.datetime:
    """Return ``value`` as a naive UTC datetime (stored the same way on SQLite and PostgreSQL)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackRecord:
    """One feedback item as stored."""

    service_id: str
    card_uuid: str
    outcome: str
    outcome_timestamp: dt.datetime
    accepted_suggestions: tuple[str, ...] = ()
    override_reason_system: str | None = None
    override_reason_code: str | None = None
    override_reason_display: str | None = None
    user_comment: str | None = None
    unknown_card: bool = False  # no audit row of this service issued the card


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One hook call: what was shown, to which (hashed) patient, how fast. No PHI, no tokens."""

    service_id: str
    hook: str
    hook_instance: str | None
    patient_hash: str | None
    status_code: int
    card_count: int
    statuses: Mapping[str, str]
    latency_ms: float
    fhir_queries: int = 0
    fhir_failures: int = 0
    card_uuids: tuple[str, ...] = ()  # the uuids of the cards answered (feedback refers to them)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAlert:
    """A critical card issued on a draft order: its uuid, the draft order's keyed hash, what it alerted about."""

    service_id: str
    card_uuid: str
    order_key: str  # keyed hash of client, patient, draft order id and option (no PHI)
    alert: str  # status and the criteria that decided it
    user_ref: str | None = None  # the hook's userId (e.g. Practitioner/123): who was shown the card


def alembic_config(url: str) -> Config:
    """Return a programmatic Alembic configuration (no alembic.ini) for ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def normalise_url(url: str) -> str:
    """Return ``url`` with the installed PostgreSQL driver (psycopg 3) when none or ``postgres://`` is given."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets gunicorn workers read while one writes; NORMAL sync keeps an audit commit off the fsync path."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _prepare_sqlite_path(url: str) -> None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class Store:
    """The service's database: feedback, audit, JWT replay cache. Thread-safe (one Engine)."""

    def __init__(self, url: str) -> None:
        url = normalise_url(url)
        _prepare_sqlite_path(url)
        self.url = url
        # A pre-ping is one extra round trip per checkout (an audit row is written on every hook call):
        # worth it against a PostgreSQL server that may drop idle connections, waste on a local SQLite file.
        is_sqlite = sa.engine.make_url(url).get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": not is_sqlite}
        self.engine: Engine = sa.create_engine(url, **kwargs)
        if is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    @property
    def backend(self) -> str:
        """Return the SQLAlchemy backend name (``sqlite`` or ``postgresql``)."""
        return self.engine.dialect.name

    def upgrade(self) -> None:
        """Apply every Alembic migration (idempotent; serialised across replicas on PostgreSQL)."""
        with self.engine.begin() as conn:
            if self.backend == "postgresql":
                # One replica migrates at a time; the lock ends with the transaction.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(774411001)"))
            config = alembic_config(self.url)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def revision(self) -> str | None:
        """Return the applied Alembic revision, or None before the first migration."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            return str(value) if value is not None else None

    def ping(self) -> bool:
        """Return True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("database ping failed: %s", type(exc).__name__)
            return False
        return True

    def remember_jti(self, issuer: str, jti: str, expires_at: dt.datetime) -> bool:
        """Return True the first time (issuer, jti) is seen, False for a replay still within its lifetime."""
        expires = _utc_naive(expires_at)
        now = _now()
        try:
            with self.engine.begin() as conn:
                conn.execute(_INSERT_JTI, {"issuer": issuer, "jti": jti, "expires_at": expires})
        except IntegrityError:
            with self.engine.begin() as conn:
                # An expired entry may be reused: its token can no longer be valid anyway.
                result = conn.execute(
                    jwt_replay_table.update()
                    .where(jwt_replay_table.c.issuer == issuer, jwt_replay_table.c.jti == jti,
                           jwt_replay_table.c.expires_at < now)
                    .values(expires_at=expires)
                )
                return bool(result.rowcount == 1)
        return True

    def purge_expired_jtis(self) -> int:
        """Delete replay entries whose token expired; return how many."""
        with self.engine.begin() as conn:
            result = conn.execute(jwt_replay_table.delete().where(jwt_replay_table.c.expires_at < _now()))
            return int(result.rowcount or 0)

    def save_feedback(self, records: Sequence[FeedbackRecord]) -> int:
        """Store feedback items idempotently; return how many were new (duplicates are ignored)."""
        new = 0
        for record in records:
            row = {
                "service_id": record.service_id,
                "card_uuid": record.card_uuid,
                "outcome": record.outcome,
                "outcome_timestamp": _utc_naive(record.outcome_timestamp),
                "accepted_suggestions": json.dumps(list(record.accepted_suggestions)),
                "override_reason_system": record.override_reason_system,
                "override_reason_code": record.override_reason_code,
                "override_reason_display": record.override_reason_display,
                "user_comment": record.user_comment,
                "received_at": _now(),
                "unknown_card": record.unknown_card,
            }
            try:
                with self.engine.begin() as conn:
                    conn.execute(feedback_table.insert().values(**row))
                new += 1
            except IntegrityError:
                continue  # the same report again: idempotent by the unique constraint
        return new

    def feedback_for(self, card_uuid: str) -> list[dict[str, Any]]:
        """Return the stored feedback rows of one card, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(feedback_table).where(feedback_table.c.card_uuid == card_uuid).order_by(feedback_table.c.id)
            ).mappings()
            return [_decode_feedback(dict(r)) for r in rows]

    def record_audit(self, record: AuditRecord) -> None:
        """Append one audit row (raises SQLAlchemyError if the database is down)."""
        row = {
            "at": _now(),
            "service_id": record.service_id,
            "hook": record.hook,
            "hook_instance": record.hook_instance,
            "patient_hash": record.patient_hash,
            "status_code": record.status_code,
            "card_count": record.card_count,
            "statuses": json.dumps(dict(record.statuses), sort_keys=True),
            "latency_ms": record.latency_ms,
            "fhir_queries": record.fhir_queries,
            "fhir_failures": record.fhir_failures,
            "card_uuids": json.dumps(list(record.card_uuids)),
        }
        with self.engine.begin() as conn:
            # Prebuilt statements with bound parameters: compiled once per process (SQLAlchemy's cache),
            # instead of a new ``insert().values(...)`` construct to build and cache-key on every hook call.
            inserted = conn.execute(_INSERT_AUDIT, row)
            if record.card_uuids:
                key = inserted.inserted_primary_key
                if key is None:
                    raise SQLAlchemyError("audit row inserted without a primary key")
                audit_id = key[0]
                conn.execute(_INSERT_AUDIT_CARD, [
                    {"audit_id": audit_id, "service_id": record.service_id, "card_uuid": card}
                    for card in dict.fromkeys(record.card_uuids)
                ])

    def issued_cards(self, service_id: str, card_uuids: Sequence[str]) -> set[str]:
        """Return those of ``card_uuids`` that an audit row of ``service_id`` answered."""
        wanted = list(dict.fromkeys(card_uuids))
        if not wanted:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(hook_audit_card_table.c.card_uuid).where(
                    hook_audit_card_table.c.service_id == service_id, hook_audit_card_table.c.card_uuid.in_(wanted)
                )
            )
            return {str(r[0]) for r in rows}

    def remember_alerts(self, alerts: Sequence[OrderAlert]) -> None:
        """Store the critical order cards just issued (one row per card; a repeated uuid is ignored)."""
        for alert in alerts:
            row = {"service_id": alert.service_id, "card_uuid": alert.card_uuid, "order_key": alert.order_key,
                   "alert": alert.alert[:512], "user_ref": (alert.user_ref or None) and alert.user_ref[:255],
                   "issued_at": _now()}
            try:
                with self.engine.begin() as conn:
                    conn.execute(order_alert_table.insert().values(**row))
            except IntegrityError:
                continue

    def override_of(self, order_key: str, alert: str, since: dt.datetime) -> dict[str, Any] | None:
        """Return the newest ``overridden`` feedback since ``since`` on a card with this alert for this order.

        The row holds the feedback's reason (system, code, display), comment and time, and the ``user_ref`` the
        overridden card was shown to; None when the alert was never overridden.
        """
        f, a = feedback_table, order_alert_table
        query = (
            sa.select(f.c.override_reason_system, f.c.override_reason_code, f.c.override_reason_display,
                      f.c.user_comment, f.c.outcome_timestamp, f.c.service_id, a.c.user_ref, a.c.card_uuid)
            .select_from(f.join(a, f.c.card_uuid == a.c.card_uuid))
            .where(a.c.order_key == order_key, a.c.alert == alert, f.c.outcome == "overridden",
                   f.c.service_id == a.c.service_id, f.c.received_at >= _utc_naive(since))
            .order_by(f.c.id.desc()).limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
            return dict(row) if row is not None else None

    def recent_audit(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return the newest audit rows, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(hook_audit_table).order_by(hook_audit_table.c.id.desc()).limit(limit)
            ).mappings()
            out = []
            for r in rows:
                item = dict(r)
                item["statuses"] = json.loads(item["statuses"])
                item["card_uuids"] = json.loads(item["card_uuids"])
                out.append(item)
            return out

    def dispose(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


def _decode_feedback(row: dict[str, Any]) -> dict[str, Any]:
    row["accepted_suggestions"] = json.loads(row["accepted_suggestions"])
    return row


def init_app(app: Flask, settings: Settings) -> None:
    """Create the Store for ``settings.database_url``, migrate it, keep it at ``app.extensions["nelm_store"]``."""
    store = Store(settings.database_url)
    store.upgrade()
    app.extensions["nelm_store"] = store


def store_of(app: Flask) -> Store:
    """Return the app's Store; raises RuntimeError when ``init_app`` was not called."""
    store = app.extensions.get("nelm_store")
    if not isinstance(store, Store):
        raise RuntimeError("the store is not initialised: create_app must call store.init_app")
    return store


def upgrade_main() -> int:
    """``nelm-cds db upgrade``: migrate NELM_DATABASE_URL to the newest revision; return the exit status."""
    settings = Settings.from_env()
    store = Store(settings.database_url)
    try:
        store.upgrade()
        print(f"database at revision {store.revision()}")  # noqa: T201 - command output
    except SQLAlchemyError as exc:
        print(f"nelm-cds db upgrade: {type(exc).__name__}: {exc}", file=sys.stderr)  # noqa: T201 - command output
        return 1
    finally:
        store.dispose()
    return 0

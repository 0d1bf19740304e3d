"""The store: Alembic migrations, idempotent feedback, the JWT replay cache, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from cds_hooks.store import MIGRATIONS, AuditRecord, FeedbackRecord, Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'instance' / 'nelm.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = Store(url)
    s.upgrade()
    yield s
    if request.param == "postgresql":
        with s.engine.begin() as conn:
            for table in ("feedback", "hook_audit", "jwt_replay"):
                conn.execute(sa.text(f"DELETE FROM {table}"))
    s.dispose()


def test_migrations_reach_head_and_are_idempotent(store: Store) -> None:
    store.upgrade()  # second run: nothing to do, no error
    script = ScriptDirectory(str(MIGRATIONS))
    assert store.revision() == script.get_current_head()
    assert script.get_revision("0001_initial").down_revision is None  # the first revision keeps its id
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"feedback", "hook_audit", "jwt_replay", "alembic_version", "maintenance"} <= tables
    assert store.ping() is True


def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    s = Store(f"sqlite:///{tmp_path / 'a' / 'b' / 'db.sqlite3'}")
    s.upgrade()
    assert (tmp_path / "a" / "b" / "db.sqlite3").exists()
    s.dispose()


def test_feedback_is_stored_once(store: Store) -> None:
    card = str(uuid.uuid4())
    when = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
    record = FeedbackRecord(service_id="nelm-pathway", card_uuid=card, outcome="overridden", outcome_timestamp=when,
                            override_reason_system="urn:x", override_reason_code="mdt",
                            override_reason_display="Tumour board", user_comment="discussed 2026-11-20")
    assert store.save_feedback([record, record]) == 1
    assert store.save_feedback([record]) == 0
    rows = store.feedback_for(card)
    assert len(rows) == 1
    assert rows[0]["override_reason_code"] == "mdt"
    assert rows[0]["user_comment"] == "discussed 2026-11-20"
    later = FeedbackRecord(service_id="nelm-pathway", card_uuid=card, outcome="accepted",
                           outcome_timestamp=when + dt.timedelta(minutes=1), accepted_suggestions=("s1",))
    assert store.save_feedback([later]) == 1
    assert [r["outcome"] for r in store.feedback_for(card)] == ["overridden", "accepted"]
    assert store.feedback_for(card)[1]["accepted_suggestions"] == ["s1"]


def test_jti_replay_is_refused_until_expiry(store: Store) -> None:
    jti = uuid.uuid4().hex
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert store.remember_jti("https://sandbox.cds-hooks.org", jti, soon) is True
    assert store.remember_jti("https://sandbox.cds-hooks.org", jti, soon) is False
    assert store.remember_jti("https://other.example", jti, soon) is True
    expired = uuid.uuid4().hex
    assert store.remember_jti("iss", expired, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)) is True
    assert store.remember_jti("iss", expired, soon) is True  # the old entry had expired
    assert store.purge_expired_jtis() == 0


def test_audit_rows_hold_no_phi(store: Store) -> None:
    store.record_audit(AuditRecord(service_id="nelm-pathway", hook="patient-view", hook_instance="h1",
                                   patient_hash="pt_0123456789abcdef", status_code=200, card_count=3,
                                   statuses={"tace": "contraindicated"}, latency_ms=12.5))
    row = store.recent_audit(1)[0]
    assert row["statuses"] == {"tace": "contraindicated"}
    assert row["patient_hash"] == "pt_0123456789abcdef"
    assert row["latency_ms"] == 12.5


def test_plain_postgresql_urls_use_the_installed_driver() -> None:
    from cds_hooks.store import normalise_url

    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_db_upgrade_command(tmp_path: Path, postgres_url: str) -> None:
    cli = Path(sys.executable).parent / "nelm-cds"
    for url in (f"sqlite:///{tmp_path / 'cli.sqlite3'}", postgres_url.replace("postgresql+psycopg://", "postgresql://")):
        env = {**os.environ, "NELM_DATABASE_URL": url}
        for _ in range(2):  # idempotent
            result = subprocess.run([str(cli), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120,
                                    check=False)
            assert result.returncode == 0, result.stderr
            assert result.stdout.startswith("database at revision ")
    bad = subprocess.run([str(cli), "db", "upgrade"], env={**os.environ, "NELM_DATABASE_URL":
                                                           "postgresql://nobody@127.0.0.1:1/none"},
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 1 and "OperationalError" in bad.stderr


def test_initial_revision_downgrades_cleanly(tmp_path: Path) -> None:
    from alembic import command

    from cds_hooks.store import alembic_config

    url = f"sqlite:///{tmp_path / 'mig.sqlite3'}"
    s = Store(url)
    config = alembic_config(url)
    with s.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001_initial")
    assert {"feedback", "hook_audit", "jwt_replay"} <= set(sa.inspect(s.engine).get_table_names())
    with s.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(sa.inspect(s.engine).get_table_names()) == {"alembic_version"}
    s.upgrade()
    assert s.ping()
    s.dispose()


def _columns(store: Store, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(store.engine).get_columns(table)}


def test_revision_0003_adds_issued_cards_and_downgrades(store: Store) -> None:
    from alembic import command

    from cds_hooks.store import alembic_config

    # Rows written before 0003 keep working: the new columns have server defaults.
    config = alembic_config(store.url)
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002_smart_sessions")
    assert "hook_audit_card" not in sa.inspect(store.engine).get_table_names()
    assert "card_uuids" not in _columns(store, "hook_audit")
    assert "unknown_card" not in _columns(store, "feedback")
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO hook_audit (at, service_id, hook, status_code, card_count, statuses, "
                             "latency_ms) VALUES (:at, 'nelm-pathway', 'patient-view', 200, 0, '{}', 1.0)"),
                     {"at": dt.datetime(2026, 11, 1)})
    store.upgrade()
    assert store.revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()  # 0003 and later revisions
    assert "card_uuids" in _columns(store, "hook_audit") and "unknown_card" in _columns(store, "feedback")
    old = [r for r in store.recent_audit() if r["at"] == dt.datetime(2026, 11, 1)]
    assert old and old[0]["card_uuids"] == []
    card = str(uuid.uuid4())
    store.record_audit(AuditRecord(service_id="nelm-pathway", hook="patient-view", hook_instance=None,
                                   patient_hash="pt_x", status_code=200, card_count=1, statuses={}, latency_ms=2.0,
                                   card_uuids=(card,)))
    assert store.recent_audit(1)[0]["card_uuids"] == [card]
    assert store.issued_cards("nelm-pathway", [card, str(uuid.uuid4())]) == {card}
    assert store.issued_cards("nelm-order-sign", [card]) == set()


def test_audit_rows_from_concurrent_threads_each_keep_their_own_cards(store: Store) -> None:
    # gthread workers write audit rows from several threads through the same prebuilt statements.
    from concurrent.futures import ThreadPoolExecutor

    def write(i: int) -> tuple[str, str]:
        cards = (str(uuid.uuid4()), str(uuid.uuid4()))
        store.record_audit(AuditRecord(service_id="nelm-pathway", hook="patient-view", hook_instance=f"h{i}",
                                       patient_hash=f"pt_{i}", status_code=200, card_count=2,
                                       statuses={"resection": "recommended"}, latency_ms=float(i),
                                       card_uuids=cards))
        return cards

    with ThreadPoolExecutor(max_workers=4) as pool:
        written = dict(zip(range(24), pool.map(write, range(24)), strict=True))
    rows = store.recent_audit(100)
    assert len(rows) == 24
    for row in rows:
        i = int(row["hook_instance"][1:])
        assert row["patient_hash"] == f"pt_{i}" and row["latency_ms"] == float(i)
        assert row["card_uuids"] == list(written[i])
    every_card = [c for cards in written.values() for c in cards]
    assert store.issued_cards("nelm-pathway", every_card) == set(every_card)


def test_revision_0005_adds_order_alerts_and_downgrades(store: Store) -> None:
    from alembic import command

    from cds_hooks.store import FeedbackRecord, OrderAlert, alembic_config

    config = alembic_config(store.url)
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004_maintenance")
    assert "order_alert" not in sa.inspect(store.engine).get_table_names()
    store.upgrade()
    assert "order_alert" in sa.inspect(store.engine).get_table_names()
    card, key = str(uuid.uuid4()), uuid.uuid4().hex
    alert = OrderAlert(service_id="nelm-order-select", card_uuid=card, order_key=key, alert="contraindicated:not-g3",
                       user_ref="Practitioner/1")
    store.remember_alerts([alert, alert])  # the same card twice: one row, no error
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert store.override_of(key, "contraindicated:not-g3", since) is None  # issued, not overridden
    store.save_feedback([FeedbackRecord(service_id="nelm-order-select", card_uuid=card, outcome="overridden",
                                        outcome_timestamp=dt.datetime(2026, 11, 26, 10, tzinfo=dt.UTC),
                                        override_reason_code="mdt-decision", user_comment="MDT")])
    found = store.override_of(key, "contraindicated:not-g3", since)
    assert found is not None and found["user_ref"] == "Practitioner/1" and found["user_comment"] == "MDT"
    assert store.override_of(key, "contraindicated:not-g3,ki67-liver", since) is None  # another alert
    assert store.override_of(uuid.uuid4().hex, "contraindicated:not-g3", since) is None  # another order
    assert store.override_of(key, "contraindicated:not-g3", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)) is None

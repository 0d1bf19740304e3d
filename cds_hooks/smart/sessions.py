"""Server-side SMART sessions: tokens and launch state live in the database, never in the browser.

The browser holds only an opaque, random session id in an HttpOnly cookie. The table stores a
SHA-256 of that id (a copy of the table does not yield usable cookies) and the session payload
encrypted with a key derived from ``Settings.secret_key`` (Fernet: AES-128-CBC + HMAC-SHA256).
The table is created by the Alembic revision ``0002_smart_sessions``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Engine

__all__ = ["SESSION_TABLE", "SmartSessionStore", "engine_for"]

metadata = sa.MetaData()

SESSION_TABLE = sa.Table(
    "smart_session",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("expires_at", sa.DateTime(), nullable=False),
    sa.Index("ix_smart_session_expires_at", "expires_at"),
    sa.Column("payload", sa.LargeBinary, nullable=False),
)


def _now() -> dt.datetime:
    # Naive UTC, stored the same way on SQLite and PostgreSQL (as cds_hooks.store does).
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii", "replace")).hexdigest()


def engine_for(database_url: str) -> Engine:
    """Return an engine for ``database_url``, creating the folder of a relative SQLite file."""
    if database_url.startswith("sqlite:///") and not database_url.startswith("sqlite:////"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(database_url, future=True)


class SmartSessionStore:
    """Create, read, update and end server-side sessions keyed by an opaque id."""

    def __init__(self, engine: Engine, *, secret: str, lifetime: dt.timedelta) -> None:
        """Bind the store to ``engine``; ``secret`` derives the encryption key."""
        self._engine = engine
        key = base64.urlsafe_b64encode(hashlib.sha256(b"nelm-smart-session:" + secret.encode()).digest())
        self._fernet = Fernet(key)
        self.lifetime = lifetime

    @property
    def engine(self) -> Engine:
        """Return the engine the sessions live in (the purge checks it is the shared store's)."""
        return self._engine

    def ensure_table(self) -> None:
        """Create the table when migrations have not (an app without the shared store)."""
        metadata.create_all(self._engine, checkfirst=True)

    def _seal(self, data: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(data, separators=(",", ":")).encode("utf-8"))

    def create(self, data: dict[str, Any], *, lifetime: dt.timedelta | None = None) -> str:
        """Store ``data`` under a new random session id and return the id (for the cookie).

        ``lifetime`` shortens it (a pending launch lives minutes, not the session's hours).
        """
        sid = secrets.token_urlsafe(32)
        now = _now()
        with self._engine.begin() as conn:
            conn.execute(
                SESSION_TABLE.insert().values(
                    id_hash=_hash(sid), created_at=now, expires_at=now + (lifetime or self.lifetime),
                    payload=self._seal(data)
                )
            )
        return sid

    def load(self, sid: str | None) -> dict[str, Any] | None:
        """Return the session's data, or None when unknown, expired or undecryptable."""
        if not sid or len(sid) > 128:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(SESSION_TABLE.c.expires_at, SESSION_TABLE.c.payload).where(
                    SESSION_TABLE.c.id_hash == _hash(sid)
                )
            ).first()
        if row is None or row.expires_at <= _now():
            return None
        try:
            data = json.loads(self._fernet.decrypt(bytes(row.payload)))
        except InvalidToken:
            return None  # written under another key (secret rotated): the user launches again
        return data if isinstance(data, dict) else None

    def save(self, sid: str, data: dict[str, Any]) -> None:
        """Replace the session's data and extend its lifetime."""
        with self._engine.begin() as conn:
            conn.execute(
                SESSION_TABLE.update()
                .where(SESSION_TABLE.c.id_hash == _hash(sid))
                .values(payload=self._seal(data), expires_at=_now() + self.lifetime)
            )

    def rotate(self, sid: str, data: dict[str, Any]) -> str:
        """End ``sid`` and return a new id holding ``data`` (after login: no session fixation)."""
        self.delete(sid)
        return self.create(data)

    def delete(self, sid: str) -> None:
        """End the session (no error when it does not exist)."""
        with self._engine.begin() as conn:
            conn.execute(SESSION_TABLE.delete().where(SESSION_TABLE.c.id_hash == _hash(sid)))

    def purge_expired(self) -> int:
        """Delete expired sessions and return how many were removed."""
        with self._engine.begin() as conn:
            result = conn.execute(SESSION_TABLE.delete().where(SESSION_TABLE.c.expires_at <= _now()))
        return int(result.rowcount or 0)

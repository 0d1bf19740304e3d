"""One way for every test to get a throwaway PostgreSQL database (REAL-PARTS.md: a real server, never a mock).

``fresh_database(prefix)`` is a context manager: it creates a uniquely named database on the server of
``NELM_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), yields its
SQLAlchemy URL and drops it afterwards (``WITH (FORCE)``: open connections of a crashed test do not keep it
alive). ``postgres_database`` is the same as a fixture.

Skip or fail: only a machine that neither sets ``NELM_TEST_POSTGRES_URL`` nor has a server listening at the
default address skips (with the reason). When ``NELM_TEST_POSTGRES_URL`` is set (CI sets it), or a server
answers at the default address, anything but a working connection fails the test: refused credentials, an
unknown database, a server that is down, no CREATE DATABASE right. The messages never show the password.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa

__all__ = ["DEFAULT_ADMIN_URL", "admin_url", "fresh_database", "libpq_url", "postgres_database"]

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


def admin_url() -> str:
    """Return the SQLAlchemy URL of the maintenance database (``NELM_TEST_POSTGRES_URL`` or the default)."""
    return os.environ.get("NELM_TEST_POSTGRES_URL") or DEFAULT_ADMIN_URL


def libpq_url(url: str) -> str:
    """Return a SQLAlchemy ``postgresql+psycopg://`` URL as a libpq URL (for psycopg and command-line tools)."""
    return re.sub(r"^postgresql\+psycopg://", "postgresql://", url)


def _where(url: str) -> str:
    parsed = sa.engine.make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"  # never the password


def _listening(url: str) -> bool:
    """Return whether anything accepts a TCP connection at the URL's host and port."""
    parsed = sa.engine.make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=3):
            return True
    except OSError:
        return False


def _connect(admin: str) -> psycopg.Connection[tuple[object, ...]]:
    """Connect to the maintenance database, or skip (nothing configured, no server) or fail (anything else)."""
    configured = bool(os.environ.get("NELM_TEST_POSTGRES_URL"))
    try:
        return psycopg.connect(libpq_url(admin), autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        problem = f"PostgreSQL at {_where(admin)} refused the test connection ({type(exc).__name__})"
        if configured:
            pytest.fail(f"{problem}; NELM_TEST_POSTGRES_URL is set, so the PostgreSQL tests must run", pytrace=False)
        if _listening(admin):
            pytest.fail(f"{problem}: a server listens there but the default URL {DEFAULT_ADMIN_URL} does not work; "
                        "set NELM_TEST_POSTGRES_URL to a working one", pytrace=False)
        pytest.skip(f"PostgreSQL not reachable at {_where(admin)} ({type(exc).__name__}); "
                    "set NELM_TEST_POSTGRES_URL or run .ci/run, which provides one")


@contextmanager
def fresh_database(prefix: str = "nelm_test") -> Iterator[str]:
    """Yield the SQLAlchemy URL of a new, uniquely named database; drop it afterwards (skip or fail: see above)."""
    if not _NAME.match(prefix):
        raise ValueError(f"database prefix {prefix!r} must be lower-case letters, digits and _ (at most 31)")
    admin = admin_url()
    conn = _connect(admin)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, as a SQLAlchemy URL (dropped afterwards)."""
    with fresh_database() as url:
        yield url

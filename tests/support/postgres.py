"""One way for every test to get a throwaway PostgreSQL database (REAL-PARTS.md: a real server, never a mock).

``fresh_database(prefix)`` is a context manager: it creates a uniquely named database on the server of
``NELM_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), yields its
SQLAlchemy URL and drops it afterwards (``WITH (FORCE)``: open connections of a crashed test do not keep it
alive). When the server cannot be reached the calling test is skipped with the reason; any other failure
(no CREATE DATABASE right, a bad URL) fails the test. ``postgres_database`` is the same as a fixture.
"""

from __future__ import annotations

import os
import re
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


@contextmanager
def fresh_database(prefix: str = "nelm_test") -> Iterator[str]:
    """Yield the SQLAlchemy URL of a new, uniquely named database; drop it afterwards; skip when unreachable."""
    if not _NAME.match(prefix):
        raise ValueError(f"database prefix {prefix!r} must be lower-case letters, digits and _ (at most 31)")
    admin = admin_url()
    try:
        conn = psycopg.connect(libpq_url(admin), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {_where(admin)} ({type(exc).__name__}); "
                    "set NELM_TEST_POSTGRES_URL or run .ci/run, which provides one")
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

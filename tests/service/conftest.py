"""Fixtures of the service tests: a development app with auth disabled on its own SQLite file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from cds_hooks.store import store_of
from tests.support.postgres import fresh_database

NOW = dt.date(2026, 11, 26)


def make_app(tmp_path: Path, **changes: object) -> Flask:
    """Return an app with auth disabled, a fresh SQLite store and the evaluation date fixed at NOW."""
    settings = Settings(auth_disabled=True, database_url=f"sqlite:///{tmp_path / 'nelm.sqlite3'}").with_(**changes)
    app = create_app(settings)
    app.extensions["nelm_clock"] = lambda: NOW
    return app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """A development app with auth disabled and the evaluation date fixed."""
    app = make_app(tmp_path)
    yield app
    store_of(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database for this session, dropped afterwards."""
    with fresh_database("nelm_test") as url:
        yield url


@pytest.fixture
def postgres_app(tmp_path: Path, postgres_url: str) -> Iterator[Flask]:
    """A development app whose store is the session's PostgreSQL database."""
    app = make_app(tmp_path, database_url=postgres_url)
    yield app
    store_of(app).dispose()


@pytest.fixture(scope="module")
def module_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app per test module, for tests that only read (golden, integration, evidence pages)."""
    app = make_app(tmp_path_factory.mktemp("service-app"))
    yield app
    store_of(app).dispose()

"""Fixtures of the ops tests: a development app on its own SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.config import Settings


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """A development app (dev trust, demo patients) with a fresh SQLite database."""
    return create_app(Settings().with_(database_url=f"sqlite:///{tmp_path / 'nelm.sqlite3'}"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()

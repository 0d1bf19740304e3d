"""The jti replay cache is shared by replicas through the database: a token used on one is refused on another."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask

from cds_hooks.app import create_app
from cds_hooks.config import Settings
from tests.security.conftest import BASE, Signer, bearer
from tests.support.postgres import fresh_database

DISCOVERY = f"{BASE}/cds-services"
@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (dropped afterwards) as a SQLAlchemy URL; skips without a server."""
    with fresh_database("nelm_sec") as url:
        yield url


def _replicas(database_url: str, trust_file: Path, count: int = 2) -> list[Flask]:
    settings = Settings(database_url=database_url, trust_file=trust_file, discovery_require_jwt=True)
    return [create_app(settings) for _ in range(count)]


def _replay_across(apps: list[Flask], signer: Signer) -> None:
    try:
        clients = [app.test_client() for app in apps]
        token = signer.token(DISCOVERY)
        assert clients[0].get("/cds-services", headers=bearer(token)).status_code == 200
        assert clients[1].get("/cds-services", headers=bearer(token)).status_code == 401
        # A concurrent burst of one token across replicas: exactly one call gets through.
        burst = signer.token(DISCOVERY)
        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = list(
                pool.map(lambda i: clients[i % 2].get("/cds-services", headers=bearer(burst)).status_code, range(8))
            )
        assert sorted(codes) == [200] + [401] * 7
    finally:
        for app in apps:
            app.extensions["nelm_store"].dispose()


def test_replay_refused_across_replicas_sharing_sqlite(tmp_path: Path, trust_file: Path, es_signer: Signer) -> None:
    _replay_across(_replicas(f"sqlite:///{tmp_path / 'shared.sqlite3'}", trust_file), es_signer)


@pytest.mark.postgres
def test_replay_refused_across_replicas_sharing_postgresql(pg_url: str, trust_file: Path, es_signer: Signer) -> None:
    _replay_across(_replicas(pg_url, trust_file), es_signer)

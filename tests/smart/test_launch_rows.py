"""Attack finding 7 on /smart/launch: an unauthenticated launch stores a short-lived row and, however
often it is called, the service asks the EHR for its SMART configuration once per cache period."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from cds_hooks.smart import oauth
from cds_hooks.smart.discovery import DISCOVERY_TTL_SECONDS, FAILURE_TTL_SECONDS, DiscoveryCache
from cds_hooks.smart.launch import PENDING_SECONDS
from cds_hooks.smart.sessions import SESSION_TABLE
from tests.support.smart_auth_server import SmartAuthServer


def test_launches_store_short_rows_and_discover_once(smart_app: Flask, client: FlaskClient,
                                                     auth_server: SmartAuthServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = oauth.discover

    def counting(iss: str, **kwargs: Any) -> oauth.SmartConfiguration:
        calls.append(iss)
        return real(iss, **kwargs)

    monkeypatch.setattr(oauth, "discover", counting)
    for _ in range(25):
        response = client.get("/smart/launch", query_string={"iss": auth_server.iss, "launch": "anything"})
        assert response.status_code == 302
    assert calls == [auth_server.iss]  # 25 launches, one outbound discovery
    engine = smart_app.extensions["nelm_smart"].sessions.engine
    with engine.connect() as conn:
        rows = conn.execute(sa.select(SESSION_TABLE.c.created_at, SESSION_TABLE.c.expires_at)).all()
    assert len(rows) == 25
    assert all((r.expires_at - r.created_at).total_seconds() <= PENDING_SECONDS for r in rows)
    assert PENDING_SECONDS <= 600


def test_the_cache_expires_and_remembers_failures_briefly() -> None:
    now = [0.0]
    cache = DiscoveryCache(clock=lambda: now[0])
    config = oauth.SmartConfiguration(authorization_endpoint="https://a/authorize", token_endpoint="https://a/token",
                                      capabilities=(), code_challenge_methods=("S256",))
    fetched: list[int] = []

    def fetch() -> oauth.SmartConfiguration:
        fetched.append(1)
        return config

    def fail() -> oauth.SmartConfiguration:
        fetched.append(0)
        raise oauth.DiscoveryError("the EHR's SMART configuration answered HTTP 503")

    assert cache.get("https://ehr/fhir", fetch) is config
    now[0] = DISCOVERY_TTL_SECONDS - 1
    assert cache.get("https://ehr/fhir", fail) is config and fetched == [1]
    now[0] = DISCOVERY_TTL_SECONDS + 1
    for _ in range(3):
        with pytest.raises(oauth.DiscoveryError, match="503"):
            cache.get("https://ehr/fhir", fail)
    assert fetched == [1, 0]  # the failure is remembered, not re-fetched on every launch
    now[0] += FAILURE_TTL_SECONDS + 1
    assert cache.get("https://ehr/fhir", fetch) is config and fetched == [1, 0, 1]

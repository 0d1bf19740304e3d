"""Production shape: gunicorn with two workers on PostgreSQL, concurrent hooks and feedback.

Nothing may be lost: every hook call leaves an audit row, every feedback item a feedback row, and
/metrics (multiprocess mode) counts the calls of both workers.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from cds_hooks.demo.patients import draft_order, load_demo_bundle
from cds_hooks.validate import validate_cds_response
from tests.ops.hookclient import feedback_for, hook_body, patient_id, vignette_paths
from tests.ops.servers import nelm_serve
from tests.support.postgres import fresh_database, libpq_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

THREADS = 8
PER_THREAD = 25  # requests per thread, alternating a hook call and feedback on one of its cards


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test (dropped afterwards), as a SQLAlchemy URL."""
    with fresh_database("nelm_ops") as url:
        yield url


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return list(conn.execute(sql).fetchall())


def test_two_gunicorn_workers_on_postgres_lose_nothing_under_concurrency(tmp_path: Path, pg_url: str) -> None:
    with nelm_serve(tmp_path, {"NELM_DATABASE_URL": pg_url}, workers=2) as server:
        base = server.base_url
        s = requests.Session()
        discovery = s.get(f"{base}/cds-services", timeout=30,
                          headers={"Authorization": f"Bearer {server.token(s, '/cds-services')}"}).json()
        patients = vignette_paths()
        lock = threading.Lock()
        errors: list[str] = []
        hook_instances: list[str] = []
        feedback_cards: list[str] = []

        def worker(n: int) -> None:
            session = requests.Session()
            last_cards: list[dict[str, Any]] = []
            last_service = ""
            for i in range(PER_THREAD):
                if i % 2 == 0 or not last_cards:
                    hook = "patient-view" if (n + i) % 3 else "order-select"
                    extra: dict[str, Any] = {}
                    path = patients[(n * PER_THREAD + i) % len(patients)]
                    if hook == "order-select":
                        draft = draft_order("tace", patient_id(load_demo_bundle(path)))
                        extra = {"selections": [f"ServiceRequest/{draft['id']}"],
                                 "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                                 "entry": [{"resource": draft}]}}
                    service_id, body = hook_body(discovery, hook, path, **extra)
                    url = f"/cds-services/{service_id}"
                    r = session.post(base + url, json=body, timeout=60,
                                     headers={"Authorization": f"Bearer {server.token(session, url)}"})
                    if r.status_code != 200:
                        errors.append(f"{hook} {path.name}: HTTP {r.status_code} {r.text[:200]}")
                        continue
                    problems = validate_cds_response(r.json())
                    if problems:
                        errors.append(f"{hook} {path.name}: invalid response {problems}")
                    with lock:
                        hook_instances.append(body["hookInstance"])
                    last_cards = [c for c in r.json()["cards"] if c.get("uuid")]
                    last_service = service_id
                else:
                    card = last_cards.pop(0)
                    stamp = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
                    url = f"/cds-services/{last_service}/feedback"
                    r = session.post(base + url, json={"feedback": [feedback_for(card, stamp)]}, timeout=60,
                                     headers={"Authorization": f"Bearer {server.token(session, url)}"})
                    if r.status_code != 200:
                        errors.append(f"feedback: HTTP {r.status_code} {r.text[:200]}")
                        continue
                    with lock:
                        feedback_cards.append(card["uuid"])

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(worker, range(THREADS)))

        assert errors == []
        assert len(hook_instances) + len(feedback_cards) == THREADS * PER_THREAD
        audited = {row[0] for row in _rows(pg_url, "SELECT hook_instance FROM hook_audit")}
        assert set(hook_instances) <= audited
        stored = [row[0] for row in _rows(pg_url, "SELECT card_uuid FROM feedback")]
        assert sorted(stored) == sorted(feedback_cards)
        metrics = requests.get(f"{base}/metrics", timeout=30).text
        calls = sum(float(m) for m in re.findall(r'^nelm_hook_requests_total\{[^}]*code="200"[^}]*\} (\S+)$',
                                                   metrics, flags=re.M))
        assert calls == len(hook_instances)  # both workers' samples, aggregated
        assert server.output().count("Booting worker") >= 2  # two gunicorn workers shared the load
        assert "/nelm_ops_" in server.output()  # the banner names the database (never a password)
    assert server.proc.returncode == 0


def test_replicas_share_the_replay_cache_and_feedback_through_postgres(tmp_path: Path, pg_url: str) -> None:
    # Two replicas behind one public URL, as behind a load balancer: the JWT audience is that URL.
    # Discovery requires a JWT here, so the replay check can be probed through it.
    env = {"NELM_DATABASE_URL": pg_url, "NELM_EXTERNAL_BASE_URL": "https://nelm.example.test",
           "NELM_DISCOVERY_REQUIRE_JWT": "true"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with nelm_serve(tmp_path / "a", env, workers=1) as a, nelm_serve(tmp_path / "b", env, workers=1) as b:
        s = requests.Session()
        token = a.token(s, "/cds-services")
        assert s.get(f"{a.base_url}/cds-services", headers={"Authorization": f"Bearer {token}"}, timeout=30).ok
        replay = s.get(f"{b.base_url}/cds-services", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert replay.status_code == 401  # the other replica has seen this jti: replay refused
        fresh = s.get(f"{b.base_url}/cds-services", timeout=30,
                      headers={"Authorization": f"Bearer {b.token(s, '/cds-services')}"})
        assert fresh.status_code == 200
        service_id, body = hook_body(fresh.json(), "patient-view", vignette_paths()[0])
        url = f"/cds-services/{service_id}"
        r = s.post(a.base_url + url, json=body, timeout=60, headers={"Authorization": f"Bearer {a.token(s, url)}"})
        assert r.status_code == 200
        card = next(c for c in r.json()["cards"] if c.get("uuid"))
        stamp = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        fb_url = f"{url}/feedback"
        fb = s.post(b.base_url + fb_url, json={"feedback": [feedback_for(card, stamp)]}, timeout=60,
                    headers={"Authorization": f"Bearer {b.token(s, fb_url)}"})
        assert fb.status_code == 200  # feedback on a card another replica issued
    assert [row[0] for row in _rows(pg_url, "SELECT card_uuid FROM feedback")] == [card["uuid"]]
    assert body["hookInstance"] in {row[0] for row in _rows(pg_url, "SELECT hook_instance FROM hook_audit")}

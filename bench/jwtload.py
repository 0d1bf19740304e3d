"""HTTP load with JWT verification on: ``python -m bench.jwtload``.

wrk's Lua cannot sign, and the service refuses a replayed ``jti``, so this small load driver sends
every request with its own pre-signed ES384 token. The gunicorn workers (the product's
``gunicorn.conf.py``) trust the benchmark's issuer through a trust file written here; the tokens'
``aud`` is fixed by ``NELM_EXTERNAL_BASE_URL``. The same driver then loads the same server
configuration with authentication off, alternating run by run, so that the difference is what
verification costs under load (the driver's own cost is the same on both sides).

Bounded: at most ``--max-tokens`` tokens are signed (before the timed runs), a run stops at its
duration or when its tokens are used up, and every server is stopped by its PID.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.authcost import new_key, signed_tokens, write_trust_file
from bench.hookbody import hook_request
from bench.http_parts import PATIENT, product_env, product_templates, record_with_prefetch
from bench.servers import run_gunicorn
from bench.stats import Summary

__all__ = ["DriverResult", "drive", "main"]

EXTERNAL_BASE = "http://bench.nelm.test"
PATH = "/cds-services/nelm-pathway"


@dataclass(frozen=True, slots=True)
class DriverResult:
    """One load run: answered requests, seconds, and latency percentiles in ms; failures counted."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int

    @property
    def rps(self) -> float:
        """Return the answered requests per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def _percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def drive(port: int, body: bytes, *, clients: int, seconds: float, tokens: Iterator[str] | None) -> DriverResult:
    """Post ``body`` from ``clients`` keep-alive connections for ``seconds``; each call takes the next token."""
    lock = threading.Lock()
    latencies: list[float] = []
    failures = [0]
    deadline = time.perf_counter() + seconds

    def next_headers() -> dict[str, str] | None:
        headers = {"Content-Type": "application/json"}
        if tokens is None:
            return headers
        with lock:
            token = next(tokens, None)
        if token is None:
            return None  # the token pool is used up: the run ends early rather than replaying
        headers["Authorization"] = f"Bearer {token}"
        return headers

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        bad = 0
        try:
            while time.perf_counter() < deadline:
                headers = next_headers()
                if headers is None:
                    break
                start = time.perf_counter()
                try:
                    conn.request("POST", PATH, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                if ok:
                    mine.append((time.perf_counter() - start) * 1000)
                else:
                    bad += 1
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)
                failures[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return DriverResult(len(ordered), elapsed, _percentile(ordered, 0.5), _percentile(ordered, 0.99), failures[0])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench.jwtload", description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients (default 8)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per run (default 5)")
    p.add_argument("--runs", type=int, default=3, help="runs per side, alternated (default 3)")
    p.add_argument("--max-tokens", type=int, default=4000, help="tokens signed in advance (default 4000)")
    p.add_argument("--prefetch-resources", type=int, default=200, help="resources in the hook prefetch")
    args = p.parse_args(argv)
    if not 1 <= args.clients <= 64 or not 0 < args.duration <= 60 or not 1 <= args.runs <= 10:
        p.error("--clients 1..64, --duration up to 60 s, --runs 1..10")
    if not 1 <= args.max_tokens <= 10_000:
        p.error("--max-tokens must be between 1 and 10,000")
    return args


def _summary(results: list[DriverResult]) -> str:
    rps = Summary.of([r.rps for r in results]).format(0)
    p50 = Summary.of([r.p50_ms for r in results]).format(1)
    p99 = Summary.of([r.p99_ms for r in results]).format(1)
    failures = sum(r.failures for r in results)
    return f"{rps} req/s, p50 {p50} ms, p99 {p99} ms" + (f", {failures} FAILED" if failures else "")


def main(argv: list[str] | None = None) -> int:
    """Load one server with JWT verification and one without, alternating; print both; return the status."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nelm-jwtload-") as tmp:
        workdir = Path(tmp)
        templates, _ = product_templates(workdir)
        _, prefetch = record_with_prefetch(args.prefetch_resources, templates["nelm-pathway"])
        body = json.dumps(hook_request("patient-view", PATIENT, prefetch=prefetch)).encode("utf-8")
        key, jwk = new_key()
        tokens = iter(signed_tokens(key, EXTERNAL_BASE + PATH, args.max_tokens))
        trust = write_trust_file(workdir, jwk)
        base_env = dict(product_env(workdir), NELM_EXTERNAL_BASE_URL=EXTERNAL_BASE)
        auth_env = dict(base_env, NELM_AUTH_DISABLED="0", NELM_TRUST_FILE=str(trust),
                        NELM_DATABASE_URL=f"sqlite:///{workdir / 'jwt.sqlite3'}")

        def probe() -> Mapping[str, str]:
            token = next(tokens, None)
            if token is None:
                raise RuntimeError("the token pool was used up before the server answered")
            return {"Authorization": f"Bearer {token}"}

        with run_gunicorn("jwt-on", "cds_hooks.wsgi:app", workers=args.workers, env=auth_env, probe_path=PATH,
                          probe_body=body, workdir=workdir, probe_headers=probe) as on, \
                run_gunicorn("jwt-off", "cds_hooks.wsgi:app", workers=args.workers, env=base_env, probe_path=PATH,
                             probe_body=body, workdir=workdir) as off:
            refused = http.client.HTTPConnection("127.0.0.1", int(on.url.rsplit(":", 1)[1]), timeout=10)
            refused.request("POST", PATH, body=body, headers={"Content-Type": "application/json"})
            status = refused.getresponse().status
            refused.close()
            if status != 401:
                raise RuntimeError(f"the JWT server answered {status} to a call without a token: auth is not on")
            with_jwt: list[DriverResult] = []
            without: list[DriverResult] = []
            for _ in range(args.runs):
                with_jwt.append(drive(int(on.url.rsplit(":", 1)[1]), body, clients=args.clients,
                                      seconds=args.duration, tokens=tokens))
                without.append(drive(int(off.url.rsplit(":", 1)[1]), body, clients=args.clients,
                                     seconds=args.duration, tokens=None))
    print(f"patient-view, prefetch {args.prefetch_resources} resources, gunicorn {args.workers} workers "
          f"(gunicorn.conf.py), {args.clients} keep-alive clients, {args.runs} × {args.duration:g} s per side")
    print(f"  JWT on  (ES384, fresh jti each): {_summary(with_jwt)}")
    print(f"  JWT off:                         {_summary(without)}")
    used_up = any(r.seconds < args.duration * 0.9 for r in with_jwt)
    if used_up:
        print("  note: the token pool ran out before a run's end; raise --max-tokens")
    return 1 if any(r.failures for r in with_jwt + without) else 0


if __name__ == "__main__":
    sys.exit(main())

"""What JWT verification adds to one hook call: the product app in-process (Flask test client), once
with authentication off and once trusting a test issuer whose ES384 key signs every call.

Each call carries a fresh token (its own ``jti``: the service refuses a replay), so the figure
includes the signature check and the replay-cache insert + commit — what a real EHR call costs.
Tokens are signed before the timed loop (signing is the EHR's cost, not ours), one per call,
bounded by ``calls``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import Summary

__all__ = ["BENCH_ISSUER", "measure_auth_cost", "new_key", "signed_tokens", "write_trust_file"]

BENCH_ISSUER = "https://ehr.bench.nelm.test"
_KID = "bench-es384"


def write_trust_file(folder: Path, public_jwk: dict[str, Any]) -> Path:
    """Write a trust file trusting ``BENCH_ISSUER`` with ``public_jwk`` (ES384); return its path."""
    path = folder / "bench-trust.json"
    path.write_text(json.dumps({"issuers": [{"issuer": BENCH_ISSUER, "algorithms": ["ES384"],
                                             "jwks": {"keys": [public_jwk]}}]}), encoding="utf-8")
    return path


def signed_tokens(private_key: Any, audience: str, count: int, *, lifetime: int = 300) -> list[str]:
    """Return ``count`` ES384 tokens for ``audience``, each with its own jti (at most 10,000)."""
    import jwt

    if not 0 < count <= 10_000:
        raise ValueError("count must be between 1 and 10,000")
    now = int(time.time())
    return [jwt.encode({"iss": BENCH_ISSUER, "aud": audience, "iat": now, "exp": now + lifetime,
                        "jti": str(uuid.uuid4())}, private_key, algorithm="ES384", headers={"kid": _KID, "typ": "JWT"})
            for _ in range(count)]


def new_key() -> tuple[Any, dict[str, Any]]:
    """Return a fresh P-384 private key and its public JWK (kid, use, alg ES384)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=_KID, use="sig", alg="ES384")
    return key, jwk


def _timed(call: Callable[[], None], per_run: int, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(per_run):
            call()
        samples.append((time.perf_counter() - start) / per_run)
    return samples


def measure_auth_cost(body: bytes, path: str, workdir: Path, *, calls: int = 40, runs: int = 5) -> tuple[
        Summary, Summary]:
    """Return per-call latency (seconds) of ``path`` without and with JWT verification, runs interleaved."""
    from cds_hooks.app import create_app
    from cds_hooks.config import Settings

    key, jwk = new_key()
    trust = write_trust_file(workdir, jwk)
    open_client = create_app(Settings(auth_disabled=True,
                                      database_url=f"sqlite:///{workdir / 'auth-off.sqlite3'}")).test_client()
    auth_client = create_app(Settings(trust_file=trust,
                                      database_url=f"sqlite:///{workdir / 'auth-on.sqlite3'}")).test_client()
    per_run = max(1, calls // runs)
    warm = 3
    tokens = iter(signed_tokens(key, f"http://localhost{path}", per_run * runs + warm))

    def post(client: Any, headers: dict[str, str]) -> None:
        response = client.post(path, data=body, content_type="application/json", headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")

    def without() -> None:
        post(open_client, {})

    def with_jwt() -> None:
        post(auth_client, {"Authorization": f"Bearer {next(tokens)}"})

    for _ in range(warm):
        without()
        with_jwt()
    off: list[float] = []
    on: list[float] = []
    for _ in range(runs):  # alternate, so that drift in machine load hits both
        off += _timed(without, per_run, 1)
        on += _timed(with_jwt, per_run, 1)
    return Summary.of(off), Summary.of(on)

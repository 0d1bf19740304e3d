"""Attack finding 2: a chunked body over NELM_MAX_REQUEST_BYTES is 413 under the real server (gunicorn).

A raw socket sends what a hostile client would: a valid hook body, then megabytes of spaces, then garbage,
in chunked transfer encoding (no Content-Length). Cutting the body at the limit and parsing the valid
prefix would answer 200; the service must refuse the whole body instead.
"""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path

import pytest
import requests

from tests.ops.servers import nelm_serve
from tests.security.records import hook_body

pytestmark = pytest.mark.slow
LIMIT = 65_536


def _chunked(body: bytes, size: int = 16_384) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def _send(host: str, port: int, path: str, token: str, body: bytes, *, chunked: bool) -> tuple[int, bytes]:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            f"Authorization: Bearer {token}", "Connection: close"]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    payload = _chunked(body) if chunked else body
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(payload)  # the server may answer and close before reading everything
        answer = b""
        while chunk := sock.recv(65_536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[-1]


def test_a_chunked_body_over_the_limit_is_413_whatever_it_starts_with(tmp_path: Path) -> None:
    env = {"NELM_DATABASE_URL": f"sqlite:///{tmp_path / 'nelm.sqlite3'}", "NELM_MAX_REQUEST_BYTES": str(LIMIT)}
    valid = json.dumps(hook_body()).encode()
    assert len(valid) < LIMIT
    hostile = valid + b" " * (3 * 2**20) + b"garbage"
    path = "/cds-services/nelm-pathway"
    with nelm_serve(tmp_path, env, workers=1) as server:
        host, port = server.base_url.removeprefix("http://").split(":")
        s = requests.Session()
        # the valid body alone is answered, chunked or not: the limit is what is tested
        for chunked in (False, True):
            status, _ = _send(host, int(port), path, server.token(s, path), valid, chunked=chunked)
            assert status == 200, chunked
        for chunked in (True, False):
            status, body = _send(host, int(port), path, server.token(s, path), hostile, chunked=chunked)
            assert status == 413, (chunked, body[:300])
            assert json.loads(body)["resourceType"] == "OperationOutcome"
        # just over the limit, in small chunks
        over = valid + b" " * (LIMIT - len(valid) + 1)
        status, _ = _send(host, int(port), path, server.token(s, path), over, chunked=True)
        assert status == 413
        at = valid + b" " * (LIMIT - len(valid))
        status, _ = _send(host, int(port), path, server.token(s, path), at, chunked=True)
        assert status == 200

"""The Dockerfile, docker-compose.yml and gunicorn.conf.py, checked without a Docker engine.

No Docker engine runs here, so the image's commands are checked in the venv: its gunicorn app path
imports to a Flask app, its health check is an endpoint that answers, it runs as a non-root user,
and the wheel it installs carries the migrations, templates and static files.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    ins = _instructions()
    last_from = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    return ins[last_from:]


def test_slim_base_and_non_root_user() -> None:
    stage = _final_stage()
    assert stage[0] == ("FROM", "python:3.11-slim")
    users = [rest for word, rest in stage if word == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}
    # The user switch comes before the command, so the service never runs as root.
    words = [w for w, _ in stage]
    assert words.index("USER") < words.index("CMD")
    assert any("useradd" in rest and users[-1] in rest for word, rest in stage if word == "RUN")


def test_healthcheck_probes_healthz() -> None:
    checks = [rest for word, rest in _final_stage() if word == "HEALTHCHECK"]
    assert len(checks) == 1 and "/healthz" in checks[0]


def test_command_runs_migrations_then_gunicorn_on_an_importable_app(tmp_path: Path) -> None:
    cmd = json.loads(next(rest for word, rest in _final_stage() if word == "CMD"))
    script = cmd[-1]
    assert script.index("nelm-cds db upgrade") < script.index("gunicorn")
    args = shlex.split(script.split("exec ", 1)[1])
    app_path = args[-1]
    module, _, attr = app_path.partition(":")
    assert "--config" in args and Path(args[args.index("--config") + 1]).name == "gunicorn.conf.py"
    env = {**os.environ, "NELM_DATABASE_URL": f"sqlite:///{tmp_path / 'nelm.sqlite3'}"}
    probe = (f"import importlib, flask; app = getattr(importlib.import_module({module!r}), {attr!r}); "
             "assert isinstance(app, flask.Flask); c = app.test_client(); "
             "print(c.get('/healthz').status_code, c.get('/readyz').status_code)")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["200", "200"]


def test_copied_paths_exist_and_env_points_at_them() -> None:
    stage = _instructions()
    for word, rest in stage:
        if word == "COPY" and not rest.startswith("--from"):
            for src in shlex.split(rest)[:-1]:
                if not src.startswith("--"):
                    assert (REPO / src).exists(), src
    env_text = " ".join(rest for word, rest in _final_stage() if word == "ENV")
    assert "NELM_ENVIRONMENT=production" in env_text
    assert "NELM_MAPPINGS_DIR=/app/mappings" in env_text
    assert "PROMETHEUS_MULTIPROC_DIR=" in env_text


def test_compose_runs_the_service_on_postgres_16_with_a_healthcheck() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    app = compose["services"]["nelm"]
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    url = app["environment"]["NELM_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
    assert app["environment"]["NELM_ENVIRONMENT"] == "production"
    assert app["environment"]["NELM_TRUST_FILE"]


def test_dockerignore_keeps_secrets_and_venvs_out() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    for pattern in (".git", ".venv", "instance", "config/trust.json", "*.pem"):
        assert pattern in lines


def test_gunicorn_settings_scale_with_cores_and_honour_web_concurrency(tmp_path: Path) -> None:
    probe = ("import runpy, json; c = runpy.run_path('gunicorn.conf.py'); "
             "print(json.dumps({k: c[k] for k in ('workers', 'worker_class', 'preload_app', 'bind')}))")
    env = {k: v for k, v in os.environ.items() if k not in {"WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"}}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prom")
    default = json.loads(subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO, capture_output=True,
                                        text=True, check=True, timeout=60).stdout)
    assert default["workers"] == min(2 * (os.cpu_count() or 1) + 1, 8)
    assert default["preload_app"] is True and default["bind"] == "127.0.0.1:8080"
    env["WEB_CONCURRENCY"] = "3"
    tuned = json.loads(subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO, capture_output=True,
                                      text=True, check=True, timeout=60).stdout)
    assert tuned["workers"] == 3
    assert (tmp_path / "prom").is_dir()


@pytest.mark.slow
def test_the_wheel_the_image_installs_carries_migrations_templates_and_static(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for package in ("nelm_fhir", "cds_hooks"):
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "out"), "."],
                          cwd=src, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next((tmp_path / "out").glob("nelm_pathways-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("cds_hooks/migrations/env.py", "cds_hooks/migrations/versions/0001_initial.py",
                   "cds_hooks/demo/templates/demo/index.html", "cds_hooks/demo/static/demo.js", "cds_hooks/wsgi.py"):
        assert needed in names, needed

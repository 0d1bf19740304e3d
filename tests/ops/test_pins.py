"""What installs is pinned: the constraints file covers the product and its dev tools, and everyone uses it.

``requirements/constraints.txt`` is what ``make`` (and through it ``.ci/run``) and the Dockerfile install
with; these tests check it is complete (every requirement and every requirement of a pinned package is
pinned exactly) and not stale (the venv the tests run in has exactly those versions).
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "requirements" / "constraints.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line.strip())
        assert match, f"{path.name}: not an exact pin: {line!r}"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _project_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in [*project["dependencies"], *extras["dev"], *extras["text"]]]


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    env = dict(default_environment())
    return any(req.marker.evaluate({**env, "extra": e}) for e in extras | {""})


def test_every_direct_requirement_is_pinned_within_its_range() -> None:
    pins = _pins(CONSTRAINTS)
    for req in _project_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in {CONSTRAINTS.name}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} outside {req.specifier}"


def test_the_pins_are_closed_under_dependencies() -> None:
    """Every dependency of a pinned package (with the extras we ask for) is itself pinned: nothing floats."""
    pins = _pins(CONSTRAINTS)
    wanted: dict[str, set[str]] = {}
    for req in _project_requirements():
        wanted.setdefault(canonicalize_name(req.name), set()).update(req.extras)
    missing: list[str] = []
    for name in pins:
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # reported by the next test
        for line in requires:
            dep = Requirement(line)
            if _applies(dep, wanted.get(name, set())) and canonicalize_name(dep.name) not in pins:
                missing.append(f"{name} -> {dep}")
    assert not missing, missing


def test_the_venv_matches_the_pins() -> None:
    """The file is not stale: the tests run on exactly the versions a fresh machine would install."""
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    drift = {n: (v, installed.get(n)) for n, v in _pins(CONSTRAINTS).items() if installed.get(n) != v}
    assert not drift, f"pinned vs installed: {drift}; regenerate {CONSTRAINTS.name} (see its header)"


def test_make_ci_and_the_image_install_with_the_constraints() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    installs = [line for line in makefile.splitlines() if re.search(r"/pip install", line)]
    assert installs and all(" -c " in line for line in installs), installs
    assert "CONSTRAINTS ?= requirements/constraints.txt" in makefile
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci and "pip install" not in ci  # CI installs Python packages only through make
    docker = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "--constraint requirements/constraints.txt" in docker
    for side in ("fhir-server", "healthchain"):
        assert _pins(REPO / "requirements" / f"{side}.txt"), side

"""The lock files (requirements/) cover pyproject.toml: a dependency added without `bash requirements/lock` fails here.

CI installs requirements/ci.txt and the image requirements/node.txt, each an exact version with its hashes; a
dependency missing from them would still be installed by CI's `pip install -e '.[test]'` that follows, at
whatever version is newest that day, which is what the lock is there to prevent.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def locked(name: str) -> dict[str, str]:
    """name -> version of every package in requirements/NAME.txt, each of which must carry hashes."""
    text = (ROOT / "requirements" / name).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])  # after the two header lines
    for entry in entries:
        assert "--hash=sha256:" in entry, f"requirements/{name}: no hash for {entry.splitlines()[0]}"
    return {canonicalize_name(m.group(1)): m.group(2) for m in PINNED.finditer(text)}


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return found


@pytest.mark.parametrize(("lock", "extras"), [("ci.txt", ("postgres", "test")), ("node.txt", ("postgres",))])
def test_every_dependency_is_locked_at_a_version_it_allows(lock: str, extras: tuple[str, ...]) -> None:
    versions = locked(lock)
    assert len(versions) > 20  # the parse found the lock
    missing = []
    for requirement in declared(*extras):
        version = versions.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{requirement} (locked: {version})")
    assert missing == [], f"refresh the lock files: bash requirements/lock (README, Dependencies); {missing}"


def test_the_image_runs_the_versions_ci_tested() -> None:
    ci, node = locked("ci.txt"), locked("node.txt")
    assert {name: ci.get(name) for name in node} == node


def test_ci_and_the_image_install_from_the_lock() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("pip install -q -r requirements/ci.txt") < ci.index("pip install -q -e '.[test]'")
    image = (ROOT / "deploy" / "Dockerfile").read_text()
    assert image.index("pip install -r requirements/node.txt") < image.index("pip install '.[postgres]'")

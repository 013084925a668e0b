"""The uvicorn contract: every private uvicorn name the live path relies on is there, with the kind it expects.

ticker.live.handover subclasses uvicorn's protocol classes and touches their attributes; the names it relies on
are listed once, in ``UVICORN_NAMES``. An upgrade that renames or removes one fails here, in CI, instead of on a
live node's first reader.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from types import ModuleType
from typing import TypeGuard

import pytest
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from ticker.live.handover import UVICORN_NAMES

KINDS = ("module", "class", "method", "attribute")
SANSIO = "uvicorn.protocols.websockets.websockets_sansio_impl"


def broken_names(names: tuple[tuple[str, str], ...]) -> list[str]:
    """Each of ``names`` (dotted name, kind) that the installed uvicorn lacks or has as another kind."""
    return [f"{name}: {problem}" for name, kind in names if (problem := _problem(name, kind))]


def _problem(name: str, kind: str) -> str | None:
    assert kind in KINDS, kind
    owner, rest = _module(name)
    if not rest:
        return None if kind == "module" else f"a module, not a {kind}"
    if kind == "module":
        return "no such module"
    for part in rest[:-1]:
        owner = getattr(owner, part, None)
        if not inspect.isclass(owner):
            return f"no class {part}"
    last = rest[-1]
    if kind == "attribute":
        return None if inspect.isclass(owner) and last in _attributes(owner) else "no such attribute"
    found = getattr(owner, last, None)
    if found is None:
        return f"no such {kind}"
    if kind == "class":
        return None if inspect.isclass(found) else "not a class"
    return None if inspect.isclass(owner) and inspect.isfunction(found) else "not a method"


def _module(name: str) -> tuple[ModuleType | None, list[str]]:
    """The longest importable prefix of ``name`` (None: not even its first part) and the parts after it."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        try:
            return importlib.import_module(".".join(parts[:end])), parts[end:]
        except ImportError:
            continue
    return None, parts


def _attributes(cls: type) -> set[str]:
    """What the class and its uvicorn bases define in their bodies or set on ``self`` in their methods."""
    found: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("uvicorn"):
            continue
        found.update(vars(klass))
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(klass)))):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            found.update(target.attr for target in targets if _on_self(target))
    return found


def _on_self(target: ast.expr | None) -> TypeGuard[ast.Attribute]:
    return isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"


def test_every_uvicorn_name_the_live_path_relies_on_is_there() -> None:
    assert broken_names(UVICORN_NAMES) == []


@pytest.mark.parametrize("replacement", [None, 0], ids=["removed", "no longer a method"])
def test_the_check_fails_when_uvicorn_loses_a_name(monkeypatch: pytest.MonkeyPatch, replacement: object) -> None:
    if replacement is None:
        monkeypatch.delattr(WebSocketsSansIOProtocol, "stop_keepalive")
    else:
        monkeypatch.setattr(WebSocketsSansIOProtocol, "stop_keepalive", replacement)
    problem = "no such method" if replacement is None else "not a method"
    assert broken_names(UVICORN_NAMES) == [f"{SANSIO}.WebSocketsSansIOProtocol.stop_keepalive: {problem}"]


def test_the_check_names_each_kind_of_missing_name() -> None:
    names = (
        ("uvicorn.protocols.h3_impl", "module"),
        (f"{SANSIO}.WebSocketsProtocol", "class"),
        (f"{SANSIO}.WebSocketsSansIOProtocol.keepalive_task", "attribute"),
        (f"{SANSIO}.WebSocketsSansIOProtocol.transport", "method"),
        (SANSIO, "class"),
    )
    assert broken_names(names) == [
        "uvicorn.protocols.h3_impl: no such module",
        f"{SANSIO}.WebSocketsProtocol: no such class",
        f"{SANSIO}.WebSocketsSansIOProtocol.keepalive_task: no such attribute",
        f"{SANSIO}.WebSocketsSansIOProtocol.transport: no such method",
        f"{SANSIO}: a module, not a class",
    ]

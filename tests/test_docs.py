"""The documentation keeps up with the code: every setting and every CLI command is described, and the
error tree drawn in ``schemas/errors.py`` is the one the code defines."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
import typer

from app.cli import cli as cli_app
from schemas import errors
from schemas.errors import LienhopError
from schemas.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
USAGE = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`LIENHOP_{name.upper()}`" in USAGE, f"LIENHOP_{name.upper()} is missing from docs/usage.md"


def _commands(group: typer.Typer, prefix: str = "lienhop") -> list[str]:
    found = [f"{prefix} {c.name or _name_of(c.callback)}" for c in group.registered_commands]
    for sub in group.registered_groups:
        found += _commands(sub.typer_instance, f"{prefix} {sub.name}")
    return found


def _name_of(callback: object) -> str:
    name = getattr(callback, "__name__", None)
    assert isinstance(name, str), callback
    return name


@pytest.mark.parametrize("command", _commands(cli_app))
def test_every_cli_command_is_documented(command: str) -> None:
    assert f"`{command}" in USAGE, f"{command} is missing from docs/usage.md"


def test_readme_quick_start_is_the_two_commands() -> None:
    assert "make run" in README and "make test" in README


#: Every package of ours; the migrations run only inside Alembic (their env.py needs its context).
PACKAGES = ("schemas", "store", "harvesters", "indexer", "search", "app")
NOT_IMPORTED = ("store.migrations",)


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


_NODE = re.compile(r"(?P<indent>(?:│   |    )*)(?P<branch>[├└]── )?(?P<name>[A-Z]\w+)")


def _drawing() -> dict[str, tuple[str | None, str]]:
    """Each class of the drawing: (its parent in the drawing, its whole line)."""
    lines = (errors.__doc__ or "").splitlines()
    tree = lines[next(i for i, line in enumerate(lines) if line.startswith("LienhopError")) :]
    drawn: dict[str, tuple[str | None, str]] = {}
    path: list[str] = []  # the classes above the current line, root first
    for line in tree:
        node = _NODE.match(line)
        if not line.strip() or node is None:
            break
        depth = len(node["indent"]) // 4 + (1 if node["branch"] else 0)
        del path[depth:]
        drawn[node["name"]] = (path[-1] if path else None, line)
        path.append(node["name"])
    return drawn


def test_the_error_tree_drawing_is_true() -> None:
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if not info.name.startswith(NOT_IMPORTED):
                importlib.import_module(info.name)
    drawn = _drawing()
    assert drawn["LienhopError"][0] is None
    defined = {cls.__name__: cls for cls in _subclasses(LienhopError) if cls.__module__.startswith(PACKAGES)}
    missing = sorted(set(defined) - set(drawn))
    assert not missing, f"LienhopError subclasses missing from the drawing in schemas/errors.py: {missing}"
    assert set(drawn) - {"LienhopError"} <= set(defined), "the drawing shows classes that do not exist"
    for name, cls in defined.items():
        parent, line = drawn[name]
        assert parent == cls.__base__.__name__, f"{name} is drawn under {parent}, is a {cls.__base__}"
        where = f"[{cls.__module__}]"
        if cls.__module__ == errors.__name__:
            assert "[" not in line, line
        else:
            assert line.endswith(where), f"{name} is defined in {cls.__module__}: draw it with {where}"


def test_make_run_serves_the_demo_provider() -> None:
    """``make run`` harvests the demo, then serves it: its members are harvested again from the server."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    serve = [line for line in recipe.splitlines() if "lienhop serve" in line]
    assert serve and all("LIENHOP_DEMO_PROVIDER=1 " in line for line in serve), recipe

"""The documentation keeps up with the code: every setting and every CLI command is described."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from app.cli import cli as cli_app
from schemas.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
USAGE = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`LIENHOP_{name.upper()}`" in USAGE, f"LIENHOP_{name.upper()} is missing from docs/usage.md"


def _commands(group: typer.Typer, prefix: str = "lienhop") -> list[str]:
    found = [f"{prefix} {c.name or c.callback.__name__}" for c in group.registered_commands]  # type: ignore[union-attr]
    for sub in group.registered_groups:
        found += _commands(sub.typer_instance, f"{prefix} {sub.name}")
    return found


@pytest.mark.parametrize("command", _commands(cli_app))
def test_every_cli_command_is_documented(command: str) -> None:
    assert f"`{command}" in USAGE, f"{command} is missing from docs/usage.md"


def test_readme_quick_start_is_the_two_commands() -> None:
    assert "make run" in README and "make test" in README

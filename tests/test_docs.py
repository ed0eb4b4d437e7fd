"""The docs are part of the product: every setting, command, route and permission has an entry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from tests.api_support import route_methods
from tutela.api.app import api_routes
from tutela.auth import Permission
from tutela.cli import app as cli_app
from tutela.cli.settings_cmd import settings_markdown
from tutela.settings import Settings

DOCS = Path(__file__).parent.parent / "docs"
README = Path(__file__).parent.parent / "README.md"


def test_every_setting_has_help_text() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()]
    assert missing == []


def test_settings_page_is_current() -> None:
    assert (DOCS / "settings.md").read_text() == settings_markdown(), (
        "docs/settings.md is stale: run `tutela settings --markdown > docs/settings.md`"
    )


def _commands(group: Any, prefix: str = "tutela") -> list[str]:
    """Command paths of a (Typer's own or click's) command group, recursively."""
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.extend(_commands(command, f"{prefix} {name}"))
        else:
            found.append(f"{prefix} {name}")
    return found


def test_every_cli_command_is_documented_with_an_example() -> None:
    group = typer.main.get_command(cli_app)
    text = (DOCS / "cli.md").read_text() + (DOCS / "policy.md").read_text()
    missing = [command for command in _commands(group) if command not in text]
    assert missing == []


@pytest.fixture
def routes() -> list[tuple[str, str]]:
    return [(method, route.path) for route in api_routes() for method in route_methods(route)]


def test_every_route_is_documented(routes: list[tuple[str, str]]) -> None:
    text = (DOCS / "api.md").read_text()
    missing = [f"{method} {path}" for method, path in routes if f"{method} {path}" not in text]
    assert missing == []


def test_every_permission_is_documented() -> None:
    text = (DOCS / "api.md").read_text()
    assert [p.value for p in Permission if f"`{p.value}`" not in text] == []


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text().splitlines()[:15]
    assert any(re.match(r"make run\b", line) for line in head)
    assert any(re.match(r"make test\b", line) for line in head)

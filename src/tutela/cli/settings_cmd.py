"""`tutela settings`: every setting with its value, default and help; `--markdown` writes docs/settings.md."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from tutela.settings import Settings, get_settings


def _shown(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "**********"
    return str(value) if not isinstance(value, int | float | bool | list | type(None)) else value


def settings_markdown() -> str:
    """The settings reference (docs/settings.md is this text; a test keeps them equal)."""
    lines = [
        "# Settings",
        "",
        "Every limit and switch is a setting, read from the environment with the `TUTELA_` prefix",
        "(`TUTELA_MAX_MEDIA_BYTES=10000000`). `tutela settings` prints the values in force.",
        "This page is generated: `tutela settings --markdown > docs/settings.md`.",
        "",
        "| variable | default | what it does |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
        shown = json.dumps(_shown(default))
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `TUTELA_{name.upper()}` | `{shown}` | {description} |")
    return "\n".join(lines) + "\n"


def settings_command(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the reference page instead.")] = False,
) -> None:
    """Print the settings in force as JSON (secrets masked)."""
    if markdown:
        print(settings_markdown(), end="")
        return
    current = get_settings()
    print(json.dumps({name: _shown(getattr(current, name)) for name in Settings.model_fields}, indent=2))

"""`tutela policy ...`: check a policy file, and try one on an item, without a server or a database."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tutela.policy import PolicyError, ValidatedPolicy, input_from_json, load, render_json

policy_app = typer.Typer(help="Check policy files and try them on items.", no_args_is_help=True)

_FILE = typer.Argument(help="The policy file (YAML).", exists=False, dir_okay=False)


def _load(path: Path, as_json: bool) -> ValidatedPolicy:
    try:
        return load(path)
    except PolicyError as exc:
        if as_json:
            _print_json({"ok": False, "errors": render_json(exc.problems)})
        else:
            sys.stderr.write(f"{exc}\n")
        raise typer.Exit(1) from exc


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


@policy_app.command("check")
def check(
    file: Annotated[Path, _FILE],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {ok, rules, version} or {ok, errors} as JSON.")
    ] = False,
) -> None:
    """Validate a policy file: print `ok: N rules, version V`, or every error (file:line:col), exit 1."""
    policy = _load(file, as_json)
    if as_json:
        _print_json({"ok": True, "rules": len(policy.rules), "version": policy.version})
    else:
        sys.stdout.write(f"ok: {len(policy.rules)} rules, version {policy.version}\n")


@policy_app.command("test")
def test(
    file: Annotated[Path, _FILE],
    item: Annotated[Path, typer.Option("--item", help="An item as JSON: context, matches, viewed flag.")],
) -> None:
    """Evaluate a policy on one item and print {scan, verdict} as JSON (verdict is null when not scanned)."""
    policy = _load(file, as_json=False)
    try:
        facts = input_from_json(json.loads(item.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"error: cannot read item {item}: {exc}\n")
        raise typer.Exit(1) from exc
    scanned, reason = policy.should_scan(facts.service, facts.surface, facts.jurisdiction)
    verdict = policy.evaluate(facts).to_json() if scanned else None
    _print_json({"scan": {"scanned": scanned, "reason": reason}, "verdict": verdict})

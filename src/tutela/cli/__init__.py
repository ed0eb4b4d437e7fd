"""The `tutela` command line: the interface other tools script against (JSON lines on stdout)."""

from __future__ import annotations

import typer

from tutela.cli.admin_cmd import key_app, service_app
from tutela.cli.bank_cmd import bank_app
from tutela.cli.demo_cmd import demo_command
from tutela.cli.hash_cmd import hash_command
from tutela.cli.policy_cmd import policy_app
from tutela.cli.scan_cmd import scan_command
from tutela.cli.serve_cmd import serve_command
from tutela.cli.settings_cmd import settings_command
from tutela.cli.worker_cmd import worker_command

app = typer.Typer(
    name="tutela",
    help="Tutela: hash media, manage hash banks, scan folders against them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("hash")(hash_command)
app.command("scan")(scan_command)
app.command("demo")(demo_command)
app.command("settings")(settings_command)
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.add_typer(bank_app, name="bank")
app.add_typer(service_app, name="service")
app.add_typer(key_app, name="key")
app.add_typer(policy_app, name="policy")


def main() -> None:
    """Entry point of the `tutela` console script."""
    app()


__all__ = ["app", "main"]

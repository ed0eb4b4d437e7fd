"""`tutela demo`: what `make run` shows on a fresh machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tutela.app import Tutela
from tutela.demo import DEMO_BANK, run_demo
from tutela.demo.run import best_match
from tutela.settings import get_settings


def demo_command(
    folder: Annotated[
        Path | None, typer.Option(help="Where to write the demo pictures (default: DATA_DIR/demo).")
    ] = None,
) -> None:
    """Build a demo bank from generated pictures and scan transformed copies against it."""
    settings = get_settings()
    app = Tutela.open(settings)
    console = Console()
    target = folder or settings.data_dir / "demo"
    console.print(f"Database: {settings.resolved_database_url}")
    console.print(f"Writing generated pictures and copies under {target} ...")
    result = run_demo(app, target)
    table = Table("file", "matched", "bank", "entry", "signal", "distance", "transform", "error")
    for row in result.rows:
        match = best_match(row)
        name = Path(row.path).name
        if match is None:
            table.add_row(name, "no", "", "", "", "", "", row.error_type or "")
        else:
            table.add_row(
                name,
                "[bold red]yes[/]",
                match.bank,
                str(match.entry_id),
                match.signal_type,
                str(match.distance),
                match.transform or "",
                "",
            )
    console.print(table)
    summary = result.summary
    console.print(
        f"scanned {summary.scanned}, matched {summary.matched}, errors {summary.errors}, "
        f"{summary.images_per_second:.1f} images/s"
    )
    console.print("\nTry next:")
    console.print(f"  .venv/bin/tutela bank show {DEMO_BANK}")
    console.print(f"  .venv/bin/tutela hash --dihedral {target}/incoming/mirrored-of-known-03.jpg")
    console.print(f"  .venv/bin/tutela scan {target}/incoming --dihedral --format csv")

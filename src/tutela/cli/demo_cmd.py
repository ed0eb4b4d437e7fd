"""`tutela demo` (what `make run` runs): a demo bank and service, then the API, with keys and a curl line."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from tutela.api.app import create_app
from tutela.app import Tutela
from tutela.auth import Role
from tutela.demo import DEMO_BANK, run_demo
from tutela.demo.run import DEMO_SERVICE, best_match, build_bank, ensure_service, write_incoming
from tutela.settings import get_settings


def demo_command(
    folder: Annotated[
        Path | None, typer.Option(help="Where to write the demo pictures (default: DATA_DIR/demo).")
    ] = None,
    scan: Annotated[
        bool, typer.Option("--scan", help="Scan the demo copies and exit instead of serving.")
    ] = False,
    port: Annotated[int | None, typer.Option(help="Port to serve on (default: setting serve_port).")] = None,
) -> None:
    """Build a demo bank of generated benign pictures and serve the API on SQLite (or scan with --scan)."""
    settings = get_settings()
    app = Tutela.open(settings)
    console = Console()
    target = folder or settings.data_dir / "demo"
    if scan:
        _scan(app, console, target)
        return
    build_bank(app, target)
    incoming = write_incoming(target)
    service = ensure_service(app)
    admin = app.keys.create(Role.ADMIN, name="make run").token
    platform = app.keys.create(Role.PLATFORM, service_id=service.id, name="make run").token
    listen_port = port or settings.serve_port
    url = f"http://{settings.serve_host}:{listen_port}"
    sample = incoming / "recompressed-of-known-01.jpg"
    curl = (
        f"curl -s -H 'Authorization: Bearer {platform}' -F file=@{shlex.quote(str(sample))} "
        f"-F content_id=demo-1 -F jurisdiction=DE '{url}/v1/items?wait=true'"
    )
    console.print(f"[bold]Tutela[/] on SQLite ({settings.resolved_database_url})")
    console.print(f"  URL:          {url}  (API docs: {url}/docs)")
    console.print(f"  admin key:    {admin}")
    console.print(f"  platform key: {platform}  (service {DEMO_SERVICE!r})")
    console.print(f"  demo bank:    {DEMO_BANK!r} (category csam; hashes of generated, benign pictures)")
    console.print("\nSubmit a recompressed copy of a bank picture and see the verdict (block + review):")
    console.print(curl, soft_wrap=True, markup=False, highlight=False)
    console.print(f"\nOther pictures to try: {incoming}\n")
    uvicorn.run(create_app(app), host=settings.serve_host, port=listen_port, log_level="info")


def _scan(app: Tutela, console: Console, target: Path) -> None:
    console.print(f"Writing generated pictures and copies under {target} ...")
    result = run_demo(app, target)
    table = Table("file", "matched", "bank", "distance", "transform", "error")
    for row in result.rows:
        match = best_match(row)
        name = Path(row.path).name
        if match is None:
            table.add_row(name, "no", "", "", "", row.error_type or "")
        else:
            table.add_row(
                name, "[bold red]yes[/]", match.bank, str(match.distance), match.transform or "", ""
            )
    console.print(table)
    summary = result.summary
    console.print(
        f"scanned {summary.scanned}, matched {summary.matched}, errors {summary.errors}, "
        f"{summary.images_per_second:.1f} images/s"
    )

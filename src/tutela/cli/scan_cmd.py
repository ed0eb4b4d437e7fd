"""`tutela scan PATH...`: hash every file in parallel, match against the banks, one row per file."""

from __future__ import annotations

import csv
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from tutela.app import Tutela
from tutela.matcher import Match
from tutela.scan.hashing import HashJob
from tutela.scan.runner import ScanRow, ScanSummary, scan
from tutela.settings import get_settings
from tutela.signals.pdq.signal import PdqMode


class OutputFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


def match_dict(match: Match) -> dict[str, Any]:
    row: dict[str, Any] = {
        "bank": match.bank,
        "category": match.category,
        "entry": match.entry_id,
        "signal_type": match.signal_type,
        "distance": match.distance,
    }
    if match.transform is not None:
        row["transform"] = match.transform
    return row


class _RowWriter:
    """Writes scan rows as JSON lines or CSV (path, matched, matches as JSON, error) to stdout."""

    def __init__(self, output: OutputFormat) -> None:
        self._output = output
        self._csv = csv.writer(sys.stdout) if output is OutputFormat.CSV else None
        if self._csv is not None:
            self._csv.writerow(["path", "matched", "matches", "error_type", "error"])

    def __call__(self, row: ScanRow) -> None:
        matches = [match_dict(m) for m in row.matches if isinstance(m, Match)]
        if self._csv is not None:
            self._csv.writerow(
                [
                    row.path,
                    len(matches),
                    json.dumps(matches) if matches else "",
                    row.error_type or "",
                    row.error or "",
                ]
            )
        else:
            record: dict[str, Any] = {"path": row.path, "matches": matches}
            if row.error is not None:
                record["error"] = {"type": row.error_type, "message": row.error}
            sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
        sys.stdout.flush()


def scan_command(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to scan (folders recursively).")],
    bank: Annotated[
        list[str] | None,
        typer.Option("--bank", help="Only match these banks (repeatable); default: all enabled."),
    ] = None,
    dihedral: Annotated[
        bool, typer.Option("--dihedral", help="Also match rotated and mirrored copies (8 PDQ variants).")
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Row format on stdout.")
    ] = OutputFormat.JSONL,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Hashing processes; default: CPU cores.")
    ] = None,
    pdq_mode: Annotated[PdqMode, typer.Option("--pdq-mode", help="PDQ hasher variant.")] = PdqMode.FAST,
) -> None:
    """Scan folders against the hash banks; exit status 0 when the scan ran, even if files failed."""
    settings = get_settings()
    app = Tutela.open(settings)
    if bank:
        known = {b.name for b in app.banks.list_banks()}
        unknown = sorted(set(bank) - known)
        if unknown:
            raise typer.BadParameter(f"unknown bank(s): {', '.join(unknown)}", param_hint="--bank")
    job = HashJob.from_settings(settings, pdq_mode, dihedral)
    console = Console(stderr=True)
    with Progress(
        TextColumn("scanning"),
        BarColumn(),
        TaskProgressColumn(show_speed=True),
        TextColumn("files"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("scan", total=None)
        summary = scan(
            [str(p) for p in paths],
            job,
            lambda batch: app.matcher.match_many(batch, banks=bank or None),
            workers=workers or settings.scan_workers or os.cpu_count() or 1,
            on_row=_RowWriter(output),
            on_progress=lambda n: progress.advance(task, n),
        )
    _print_summary(console, summary)


def _print_summary(console: Console, summary: ScanSummary) -> None:
    console.print(
        f"scanned {summary.scanned:,}  matched {summary.matched:,}  errors {summary.errors:,}  "
        f"{summary.images_per_second:,.1f} images/s  ({summary.seconds:.1f} s)"
    )
    for skipped in summary.skipped:
        console.print(f"skipped {skipped}", markup=False, highlight=False, soft_wrap=True)

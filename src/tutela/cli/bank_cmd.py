"""`tutela bank ...`: create, inspect, change, import, export and delete hash banks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tutela.app import Tutela
from tutela.banks import Bank, BankCategory, BankFileFormat, export_bank, import_entries, read_records
from tutela.cli.errors import reports_errors
from tutela.settings import get_settings
from tutela.signals.base import Signal

bank_app = typer.Typer(help="Manage hash banks: named lists of signals with provenance and licence.")
_err = Console(stderr=True)


def _open() -> Tutela:
    return Tutela.open(get_settings(), load_indexes=False)


def bank_dict(bank: Bank, entries: int | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": bank.name,
        "category": bank.category.value,
        "description": bank.description,
        "source": bank.source,
        "licence": bank.licence,
        "exportable": bank.exportable,
        "enabled": bank.enabled,
        "pdq_threshold": bank.pdq_threshold,
        "created_at": bank.created_at.isoformat(),
    }
    if entries is not None:
        row["entries"] = entries
    return row


@bank_app.command("create")
@reports_errors
def create(
    name: Annotated[str, typer.Argument(help="Bank name (letters, digits, - and _).")],
    category: Annotated[BankCategory, typer.Option(help="What harm the bank's content is.")],
    description: Annotated[str, typer.Option(help="Free text.")] = "",
    source: Annotated[str, typer.Option(help="Who supplied the list (e.g. NCMEC, own cases).")] = "",
    licence: Annotated[str, typer.Option(help="Licence or terms of the list.")] = "",
    exportable: Annotated[bool, typer.Option(help="Allow export (default: no).")] = False,
    threshold: Annotated[int | None, typer.Option(help="PDQ match threshold (default 31).")] = None,
) -> None:
    """Create a bank (not exportable unless --exportable)."""
    bank = _open().banks.create_bank(
        name,
        category,
        description=description,
        source=source,
        licence=licence,
        exportable=exportable,
        pdq_threshold=threshold,
    )
    print(json.dumps(bank_dict(bank)))


@bank_app.command("list")
@reports_errors
def list_banks(as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False) -> None:
    """List banks with their entry counts."""
    app = _open()
    table = Table("name", "category", "entries", "enabled", "threshold", "exportable")
    for bank in app.banks.list_banks():
        count = app.banks.count(bank.name)
        if as_json:
            print(json.dumps(bank_dict(bank, count)))
        else:
            table.add_row(
                bank.name,
                bank.category.value,
                f"{count:,}",
                str(bank.enabled),
                str(bank.pdq_threshold),
                str(bank.exportable),
            )
    if not as_json:
        Console().print(table)


@bank_app.command("show")
@reports_errors
def show(name: str) -> None:
    """Show one bank as JSON, with entry counts per signal type."""
    app = _open()
    row = bank_dict(app.banks.get_bank(name), app.banks.count(name))
    row["by_signal_type"] = {t: app.banks.count(name, signal_type=t) for t in app.banks.signal_types(name)}
    row["enabled_entries"] = app.banks.count(name, enabled_only=True)
    print(json.dumps(row, indent=2))


@bank_app.command("update")
@reports_errors
def update(
    name: str,
    description: Annotated[str | None, typer.Option()] = None,
    source: Annotated[str | None, typer.Option()] = None,
    licence: Annotated[str | None, typer.Option()] = None,
    category: Annotated[BankCategory | None, typer.Option()] = None,
    exportable: Annotated[bool | None, typer.Option("--exportable/--not-exportable")] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="Bank switch.")] = None,
    threshold: Annotated[int | None, typer.Option(help="PDQ match threshold.")] = None,
) -> None:
    """Change a bank's fields; only the options given change."""
    bank = _open().banks.update_bank(
        name,
        description=description,
        source=source,
        licence=licence,
        category=category,
        exportable=exportable,
        enabled=enabled,
        pdq_threshold=threshold,
    )
    print(json.dumps(bank_dict(bank)))


@bank_app.command("add")
@reports_errors
def add(
    name: str,
    value: Annotated[str, typer.Argument(help="The hash value.")],
    signal_type: Annotated[str, typer.Option("--type", help="pdq, md5, sha1 or sha256.")] = "pdq",
    note: Annotated[str | None, typer.Option(help="Why this entry is here.")] = None,
    source_id: Annotated[str | None, typer.Option(help="The supplier's id for it.")] = None,
    added_by: Annotated[str | None, typer.Option(help="Who adds it.")] = None,
) -> None:
    """Add one hash to a bank."""
    entry = _open().banks.add_entry(
        name, Signal(signal_type, value), note=note, source_id=source_id, added_by=added_by
    )
    print(
        json.dumps({"entry": entry.id, "bank": name, "signal_type": entry.signal_type, "value": entry.value})
    )


def _set_enabled(entry_id: int, enabled: bool) -> None:
    entry = _open().banks.set_entry_enabled(entry_id, enabled)
    print(json.dumps({"entry": entry.id, "enabled": entry.enabled}))


@bank_app.command("disable")
@reports_errors
def disable(entry_id: Annotated[int, typer.Argument(help="Entry id (from scan rows or export).")]) -> None:
    """Disable one entry (a false positive); it stops matching at once and stays on record."""
    _set_enabled(entry_id, False)


@bank_app.command("enable")
@reports_errors
def enable(entry_id: int) -> None:
    """Enable a disabled entry again."""
    _set_enabled(entry_id, True)


def _format_for(path: Path, given: BankFileFormat | None) -> BankFileFormat:
    if given is not None:
        return given
    return BankFileFormat.JSONL if path.suffix.lower() in (".jsonl", ".ndjson") else BankFileFormat.PLAIN


@bank_app.command("import")
@reports_errors
def import_file(
    name: str,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    file_format: Annotated[
        BankFileFormat | None, typer.Option("--format", help="Default: jsonl for .jsonl, else plain.")
    ] = None,
    signal_type: Annotated[
        str | None, typer.Option("--type", help="Signal type of lines that don't name one.")
    ] = None,
    added_by: Annotated[str | None, typer.Option(help="Recorded on entries that name no one.")] = None,
) -> None:
    """Import a hash list; bad lines are reported with their numbers and skipped, the rest publish at once."""
    app = _open()
    with path.open(encoding="utf-8", errors="replace", newline="") as lines:
        records = read_records(_format_for(path, file_format), lines, signal_type)
        report = import_entries(app.banks, name, records, added_by=added_by)
    for error in report.errors:
        _err.print(f"{path}: {error}", markup=False, highlight=False, soft_wrap=True)
    if report.error_count > len(report.errors):
        _err.print(f"... and {report.error_count - len(report.errors):,} more bad lines")
    print(
        json.dumps(
            {
                "bank": name,
                "added": report.added,
                "duplicates": report.duplicates,
                "errors": report.error_count,
            }
        )
    )


@bank_app.command("export")
@reports_errors
def export(
    name: str,
    file_format: Annotated[BankFileFormat, typer.Option("--format")] = BankFileFormat.JSONL,
    signal_type: Annotated[str | None, typer.Option("--type", help="Only this signal type.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default: stdout).")] = None,
) -> None:
    """Export a bank (refused when the bank is not exportable)."""
    app = _open()
    if output is None:
        report = export_bank(app.banks, name, file_format, sys.stdout, signal_type=signal_type)
    else:
        with output.open("w", encoding="utf-8", newline="") as out:
            report = export_bank(app.banks, name, file_format, out, signal_type=signal_type)
    _err.print(f"exported {report.written:,} entries")
    for skipped_type, count in report.skipped.items():
        _err.print(f"left out {count:,} {skipped_type} entries: {report.skip_reason}")


@bank_app.command("delete")
@reports_errors
def delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the bank and all its entries go.")] = False,
) -> None:
    """Delete a bank and every entry in it."""
    if not yes:
        raise typer.BadParameter("deleting a bank removes all its entries; add --yes to confirm")
    _open().banks.delete_bank(name)
    print(json.dumps({"deleted": name}))

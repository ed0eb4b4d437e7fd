"""`tutela hash FILE...`: one JSON line per file with each signal, or the error."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tutela.cli.output import write_json_line
from tutela.scan.hashing import HashJob, hash_file
from tutela.settings import get_settings
from tutela.signals.extract import Extraction
from tutela.signals.pdq.signal import PdqMode


def extraction_row(path: str, extraction: Extraction) -> dict[str, Any]:
    """The JSON shape of one hashed file (documented in docs/cli.md)."""
    row: dict[str, Any] = {"path": path}
    for signal in extraction.signals:
        if signal.type == "pdq":
            row["pdq"] = {
                "hash": signal.value,
                "quality": signal.quality,
                "variant": signal.variant,
            }
            if extraction.pdq is not None and extraction.pdq.dihedral is not None:
                row["pdq"]["dihedral"] = [h.hex() for h in extraction.pdq.dihedral]
        else:
            row[signal.type] = signal.value
    if extraction.media is not None:
        row["media"] = {
            "format": extraction.media.format,
            "width": extraction.media.width,
            "height": extraction.media.height,
            "frames": extraction.media.frames,
            "orientation": extraction.media.orientation,
        }
    if extraction.error is not None:
        row["error"] = {"type": extraction.error_type, "message": extraction.error}
    return row


def hash_command(
    files: Annotated[list[Path], typer.Argument(help="Media files to hash.")],
    pdq_mode: Annotated[
        PdqMode,
        typer.Option("--pdq-mode", help="fast (default) or reference (Meta's C++ tool, bit-exact)."),
    ] = PdqMode.FAST,
    dihedral: Annotated[
        bool, typer.Option("--dihedral", help="Also print the 8 rotated/mirrored PDQ hashes.")
    ] = False,
) -> None:
    """Hash media files: PDQ with quality, MD5, SHA-1 and SHA-256, one JSON line per file."""
    job = HashJob.from_settings(get_settings(), pdq_mode, dihedral)
    for path in files:
        write_json_line(extraction_row(str(path), hash_file(str(path), job)))

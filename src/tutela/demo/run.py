"""The `make run` demo: a bank built from generated pictures, transformed copies scanned against it.

Everything is benign and generated on the spot: 12 pictures go into a demo bank, then 5 kinds of copies of
some of them (resized, recompressed, greyscale, mirrored, rotated) and a few unrelated pictures are scanned
with dihedral matching, showing which copies PDQ catches and at what distance.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from tutela.app import Tutela
from tutela.banks import BankCategory
from tutela.demo.images import TRANSFORMS, jpeg_bytes, picture
from tutela.errors import NotFound
from tutela.matcher import Match
from tutela.media import MediaLimits
from tutela.scan.hashing import HashJob
from tutela.scan.runner import ScanRow, ScanSummary, scan
from tutela.services import Service
from tutela.signals.extract import extract
from tutela.signals.pdq.signal import PdqMode

DEMO_BANK = "demo-known"
DEMO_SERVICE = "demo"
BANK_PICTURES = 12
UNRELATED_PICTURES = 4


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo scanned and found, for printing and for tests."""

    folder: Path
    rows: list[ScanRow]
    summary: ScanSummary


def build_bank(app: Tutela, folder: Path) -> None:
    """(Re)create the demo bank from generated pictures written under `folder/bank`."""
    with contextlib.suppress(NotFound):
        app.banks.delete_bank(DEMO_BANK)
    app.banks.create_bank(
        DEMO_BANK,
        BankCategory.CSAM,
        description="Demo only: hashes of generated, benign pictures standing in for known material.",
        source="tutela demo",
        licence="generated; freely exportable",
        exportable=True,
    )
    limits = MediaLimits.from_settings(app.settings)
    (folder / "bank").mkdir(parents=True, exist_ok=True)
    for seed in range(BANK_PICTURES):
        data = jpeg_bytes(picture(seed))
        (folder / "bank" / f"known-{seed:02d}.jpg").write_bytes(data)
        extraction = extract(data, limits)
        for signal in extraction.signals:
            app.banks.add_entry(DEMO_BANK, signal, source_id=f"known-{seed:02d}", added_by="demo")


def ensure_service(app: Tutela) -> Service:
    """The demo service, created on first use."""
    try:
        return app.services.get(DEMO_SERVICE)
    except NotFound:
        return app.services.create(DEMO_SERVICE, "Demo platform created by `make run`")


def write_incoming(folder: Path) -> Path:
    """Transformed copies of bank pictures plus unrelated pictures, under `folder/incoming`."""
    incoming = folder / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    for seed, (name, transform) in enumerate(TRANSFORMS.items()):
        (incoming / f"{name}-of-known-{seed:02d}.jpg").write_bytes(jpeg_bytes(transform(picture(seed))))
    (incoming / "exact-copy-of-known-07.jpg").write_bytes(jpeg_bytes(picture(7)))
    for seed in range(1000, 1000 + UNRELATED_PICTURES):
        (incoming / f"unrelated-{seed}.jpg").write_bytes(jpeg_bytes(picture(seed)))
    (incoming / "not-an-image.jpg").write_text("a text file with an image name\n")
    return incoming


def run_demo(app: Tutela, folder: Path, *, workers: int = 2) -> DemoResult:
    """Build the bank, write the incoming folder, scan it with dihedral matching."""
    build_bank(app, folder)
    app.matcher.sync()
    incoming = write_incoming(folder)
    rows: list[ScanRow] = []
    job = HashJob.from_settings(app.settings, PdqMode.FAST, dihedral=True)
    summary = scan([str(incoming)], job, app.matcher.match_many, workers=workers, on_row=rows.append)
    return DemoResult(folder, rows, summary)


def best_match(row: ScanRow) -> Match | None:
    matches = [m for m in row.matches if isinstance(m, Match)]
    return min(matches, key=lambda m: m.distance) if matches else None

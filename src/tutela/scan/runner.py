"""`tutela scan`: walk, hash in parallel, match in batches, one row per file, and a summary.

Matching runs in the parent on batches of finished files, so the index is loaded once and queried with the
batched kernel; hashing runs in the workers. A file that fails produces an error row and the scan goes on;
only usage errors stop it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from tutela.scan.hashing import HashJob, hash_files
from tutela.scan.walk import WalkProblem, walk
from tutela.signals.extract import Extraction

MATCH_BATCH = 128


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One file's outcome: its matches, or why it could not be (fully) checked."""

    path: str
    matches: tuple[object, ...] = ()
    error: str | None = None
    error_type: str | None = None


@dataclass(slots=True)
class ScanSummary:
    """Totals printed at the end of a scan."""

    scanned: int = 0
    matched: int = 0
    errors: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.scanned / self.seconds if self.seconds > 0 else 0.0


MatchMany = Callable[[Sequence[Extraction]], Sequence[Sequence[object]]]


def scan(
    paths: Iterable[str],
    job: HashJob,
    match_many: MatchMany,
    *,
    workers: int,
    on_row: Callable[[ScanRow], None],
    on_progress: Callable[[int], None] | None = None,
) -> ScanSummary:
    """Scan `paths`, calling `on_row` for each file in walk order; returns the totals."""
    summary = ScanSummary()
    start = time.monotonic()
    problems: list[WalkProblem] = []
    files = _files_only(walk(paths), problems)
    batch: list[tuple[str, Extraction]] = []

    def flush() -> None:
        results = match_many([extraction for _, extraction in batch])
        for (path, extraction), matches in zip(batch, results, strict=True):
            row = ScanRow(path, tuple(matches), extraction.error, extraction.error_type)
            summary.scanned += 1
            summary.matched += bool(row.matches)
            summary.errors += row.error is not None
            on_row(row)
        if on_progress is not None:
            on_progress(len(batch))
        batch.clear()

    for path, extraction in hash_files(files, job, workers):
        for problem in _drain(problems):
            _report_problem(problem, summary, on_row)
        batch.append((path, extraction))
        if len(batch) >= MATCH_BATCH:
            flush()
    if batch:
        flush()
    for problem in _drain(problems):
        _report_problem(problem, summary, on_row)
    summary.seconds = time.monotonic() - start
    return summary


def _files_only(items: Iterator[str | WalkProblem], problems: list[WalkProblem]) -> Iterator[str]:
    for item in items:
        if isinstance(item, WalkProblem):
            problems.append(item)
        else:
            yield item


def _drain(problems: list[WalkProblem]) -> list[WalkProblem]:
    drained = problems[:]
    problems.clear()
    return drained


def _report_problem(problem: WalkProblem, summary: ScanSummary, on_row: Callable[[ScanRow], None]) -> None:
    if problem.skipped:
        summary.skipped.append(f"{problem.path}: {problem.message}")
        return
    summary.errors += 1
    on_row(ScanRow(problem.path, error=problem.message, error_type="WalkError"))

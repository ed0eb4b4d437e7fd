"""What the format modules share: the write report and byte-order-mark handling."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass
class WriteReport:
    """How many records a writer wrote, and how many of each signal type it had to leave out (and why)."""

    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skip_reason: str | None = None


def strip_bom(lines: Iterable[str]) -> Iterator[str]:
    """The lines, without the UTF-8 byte-order mark some Windows tools put at the start of a file."""
    first = True
    for line in lines:
        yield line.removeprefix("\ufeff") if first else line
        first = False

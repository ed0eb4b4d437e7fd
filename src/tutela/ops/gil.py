"""The interpreter's thread switch interval in Tutela's own processes (`tutela serve`, `tutela worker`).

Why: a thread that holds SQLite's write lock gives up the GIL at every statement (the sqlite3 module
releases it around each step) and must win it back from the request threads before the next one. With
CPython's default switch interval of 5 ms, each statement of a write transaction could wait up to 5 ms under
load, so the one write lock shared by every process was held ~7 ms on average for ~1.5 ms of work and capped
throughput with a third of the CPU idle (measured, docs/performance.md). A shorter interval hands the GIL over
sooner. Only processes Tutela starts set it: an application embedding `Tutela` keeps its own.
"""

from __future__ import annotations

import sys

from tutela.settings import Settings


def apply_switch_interval(settings: Settings) -> None:
    """Set the switch interval to `settings.switch_interval_ms`."""
    sys.setswitchinterval(settings.switch_interval_ms / 1000)

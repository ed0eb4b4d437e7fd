"""Row writers shared by commands: one JSON object per line, or CSV, to stdout."""

from __future__ import annotations

import json
import sys
from typing import Any


def write_json_line(row: dict[str, Any]) -> None:
    """One compact JSON object per line, flushed so a pipe sees each row at once."""
    sys.stdout.write(json.dumps(row, separators=(",", ":"), sort_keys=False) + "\n")
    sys.stdout.flush()

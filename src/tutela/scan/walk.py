"""Walk the paths given to `tutela scan`: files as given, folders recursively, symlink loops skipped.

Symlinks to folders are followed (media libraries are often assembled from links), but a folder already
visited on the current branch (same device and inode) is skipped, so a link back to an ancestor cannot loop.
Files are yielded in a stable order (sorted per folder) so that two scans of one tree produce the same rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class WalkProblem:
    """A path not scanned: an error (missing, unreadable, broken link) or, when `skipped`, a symlink loop."""

    path: str
    message: str
    skipped: bool = False


def walk(paths: Iterable[str | Path]) -> Iterator[str | WalkProblem]:
    """Yield file paths under `paths`, and a WalkProblem for each path that cannot be walked."""
    for root in paths:
        root_str = os.fspath(root)
        try:
            info = os.stat(root_str)
        except OSError as exc:
            yield WalkProblem(root_str, f"cannot read: {exc.strerror or exc}")
            continue
        if os.path.isdir(root_str):
            yield from _walk_dir(root_str, {(info.st_dev, info.st_ino)})
        else:
            yield root_str


def _walk_dir(folder: str, ancestors: set[tuple[int, int]]) -> Iterator[str | WalkProblem]:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        yield WalkProblem(folder, f"cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
            if not is_dir:
                if entry.is_file(follow_symlinks=True):
                    yield entry.path
                elif entry.is_symlink():
                    yield WalkProblem(entry.path, "broken symbolic link")
                continue
            info = entry.stat(follow_symlinks=True)
        except OSError as exc:
            yield WalkProblem(entry.path, f"cannot read: {exc.strerror or exc}")
            continue
        key = (info.st_dev, info.st_ino)
        if key in ancestors:
            yield WalkProblem(entry.path, "symbolic link loop skipped", skipped=True)
            continue
        yield from _walk_dir(entry.path, ancestors | {key})

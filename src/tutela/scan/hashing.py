"""Hash files through a pool of decoder processes, in input order, with a bounded number in flight.

Decoding hostile media is CPU-bound and can crash or hang a decoder, so every file is decoded in the same
long-lived, memory-limited child processes the service uses (`DecoderPool`): a crash or a hang costs that
one file an error row, the child is replaced, and the scan goes on. Files are read here, in one thread per
child, and only their signals come back. At most `4 x workers` files are in flight, so a scan of millions of
files holds a few dozen results in memory, and rows come out in walk order.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tutela.errors import MediaTooLarge
from tutela.media import MediaLimits
from tutela.media.decoder_child import DecoderConfig, DecoderHooks
from tutela.pipeline.decoder_pool import DecoderPool, PoolTimeouts
from tutela.pipeline.errors import DecoderError
from tutela.settings import Settings
from tutela.signals.extract import Extraction, extract
from tutela.signals.pdq.signal import PdqMode


@dataclass(frozen=True, slots=True)
class HashJob:
    """How to hash: limits, PDQ variant, dihedral variants, and the decoder processes' limits."""

    limits: MediaLimits
    pdq_mode: PdqMode
    dihedral: bool
    memory_mb: int
    timeouts: PoolTimeouts
    hooks: DecoderHooks | None = None
    """Test-only decoder misbehaviour (a crash or a hang on marked content)."""

    @classmethod
    def from_settings(cls, settings: Settings, pdq_mode: PdqMode, dihedral: bool) -> HashJob:
        return cls(
            MediaLimits.from_settings(settings),
            pdq_mode,
            dihedral,
            settings.decoder_memory_mb,
            PoolTimeouts(settings.decoder_timeout_seconds, settings.decoder_start_timeout_seconds),
        )


def read_file(path: str, limits: MediaLimits) -> bytes | Extraction:
    """The file's bytes, or an error Extraction (unreadable, or over the byte limit without reading it)."""
    try:
        size = os.stat(path).st_size
        if size > limits.max_media_bytes:
            error = MediaTooLarge("size in bytes", size, limits.max_media_bytes, "max_media_bytes")
            return Extraction(signals=(), error=str(error), error_type="MediaTooLarge")
        with open(path, "rb") as handle:
            return handle.read(limits.max_media_bytes + 1)
    except OSError as exc:
        return Extraction(signals=(), error=f"cannot read: {exc.strerror or exc}", error_type="OSError")


def hash_file(path: str, job: HashJob) -> Extraction:
    """Signals of one file in this process (for `tutela hash`: a few files, no isolation needed)."""
    data = read_file(path, job.limits)
    if isinstance(data, Extraction):
        return data
    return extract(data, job.limits, pdq_mode=job.pdq_mode, dihedral=job.dihedral)


def hash_files(paths: Iterable[str], job: HashJob, workers: int) -> Iterator[tuple[str, Extraction]]:
    """(path, extraction) for every path, in order, decoded by `workers` decoder processes."""
    config = DecoderConfig(job.limits, job.pdq_mode, job.dihedral, job.memory_mb, job.hooks)
    with DecoderPool(workers, config, job.timeouts) as pool, ThreadPoolExecutor(workers) as threads:

        def hash_one(path: str) -> Extraction:
            data = read_file(path, job.limits)
            if isinstance(data, Extraction):
                return data
            try:
                return pool.extract(data)
            except DecoderError as exc:
                return Extraction(signals=(), error=str(exc), error_type=type(exc).__name__)

        pending: deque[tuple[str, Future[Extraction]]] = deque()
        for path in paths:
            pending.append((path, threads.submit(hash_one, path)))
            if len(pending) >= 4 * workers:
                head, future = pending.popleft()
                yield head, future.result()
        while pending:
            head, future = pending.popleft()
            yield head, future.result()

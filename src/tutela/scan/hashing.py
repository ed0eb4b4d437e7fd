"""Hash files in parallel processes, in input order, with a bounded number in flight.

Decoding hostile media is CPU-bound and can crash a decoder, so it runs in worker processes; results come back
as small picklable `Extraction`s (signals, never pixels). At most `4 x workers` files are in flight,
so a scan of millions of files holds a few dozen results in memory, and rows come out in walk order.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from tutela.errors import MediaTooLarge
from tutela.media import MediaLimits
from tutela.media.decoder_child import prepare_child_environment
from tutela.signals.extract import Extraction, extract
from tutela.signals.pdq.signal import PdqMode


@dataclass(frozen=True, slots=True)
class HashJob:
    """What every worker needs to know, sent once per worker."""

    limits: MediaLimits
    pdq_mode: PdqMode
    dihedral: bool


_JOB: HashJob | None = None


def _init_worker(job: HashJob) -> None:
    global _JOB
    _JOB = job


def hash_file(path: str, job: HashJob) -> Extraction:
    """Signals of one file; I/O problems and oversize files become an error, never an exception."""
    try:
        size = os.stat(path).st_size
        if size > job.limits.max_media_bytes:
            error = MediaTooLarge("size in bytes", size, job.limits.max_media_bytes, "max_media_bytes")
            return Extraction(signals=(), error=str(error), error_type="MediaTooLarge")
        with open(path, "rb") as handle:
            data = handle.read(job.limits.max_media_bytes + 1)
    except OSError as exc:
        return Extraction(signals=(), error=f"cannot read: {exc.strerror or exc}", error_type="OSError")
    return extract(data, job.limits, pdq_mode=job.pdq_mode, dihedral=job.dihedral)


def _hash_in_worker(path: str) -> Extraction:
    assert _JOB is not None, "worker started without its job"
    return hash_file(path, _JOB)


def hash_files(paths: Iterable[str], job: HashJob, workers: int) -> Iterator[tuple[str, Extraction]]:
    """(path, extraction) for every path, in order; `workers` <= 1 hashes in this process."""
    if workers <= 1:
        for path in paths:
            yield path, hash_file(path, job)
        return
    prepare_child_environment()
    context = multiprocessing.get_context("spawn")  # no fork: the parent may run index threads
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(job,)) as pool:
        pending: deque[tuple[str, Future[Extraction]]] = deque()
        for path in paths:
            pending.append((path, pool.submit(_hash_in_worker, path)))
            if len(pending) >= 4 * workers:
                head, future = pending.popleft()
                yield head, _result(future)
        while pending:
            head, future = pending.popleft()
            yield head, _result(future)


def _result(future: Future[Extraction]) -> Extraction:
    """The worker's extraction; a worker that died (decoder crash) becomes this file's error row."""
    try:
        return future.result()
    except Exception as exc:  # a BrokenProcessPool poisons the pool: the caller sees errors, not a hang
        return Extraction(signals=(), error=f"hashing process failed: {exc!r}", error_type="HashingFailed")

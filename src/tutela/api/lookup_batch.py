"""Gather concurrent lookups (bare PDQ hashes and hashed uploads) into one index query.

A PDQ scan of 1M entries costs ~1.8 ms of CPU for one hash and ~0.5 ms per hash in a batch of 16, so at
high request rates one scan per request cannot keep up. There is no fixed batching window: the first lookup
starts a scan at once on the batcher's thread, and every lookup that arrives while a scan runs waits for the
next one, which takes them all (up to `max_batch` requests). An idle server answers a lone lookup without
waiting; a busy one batches as much as its own scan time allows. The event loop keeps serving during a scan
(the kernels release the GIL). A bare hash is answered as `Matcher.lookup` answers it, an extraction (with
its dihedral variants and exact digests, if any) as `Matcher.match_many` does: `Matcher.search` scans both.
"""

from __future__ import annotations

import asyncio

from tutela.matcher import Match, Matcher
from tutela.ops.thread_lane import ThreadLane
from tutela.signals.extract import Extraction

MAX_BATCH = 64
"""Requests per scan; beyond ~64 hashes the cost per hash stops falling (docs/performance.md)."""


class LookupBatcher:
    """Batched PDQ lookups for one event loop; `close()` stops its thread."""

    def __init__(self, matcher: Matcher, *, max_batch: int = MAX_BATCH) -> None:
        self._matcher = matcher
        self._max_batch = max_batch
        self._pending: list[tuple[str | Extraction, asyncio.Future[list[Match]]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._thread = ThreadLane(1, "tutela-lookup")  # a third of an executor's CPU per hop

    async def lookup(self, value: str, banks: list[str] | None) -> list[Match]:
        """Matches of one validated PDQ hash (hex), in `banks` (all when None)."""
        return await self._join(value, banks)

    async def match(self, extraction: Extraction, banks: list[str] | None) -> list[Match]:
        """`Matcher.match_many` of one extraction, in `banks` (all when None)."""
        return await self._join(extraction, banks)

    def close(self) -> None:
        self._thread.close()

    async def _join(self, query: str | Extraction, banks: list[str] | None) -> list[Match]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Match]] = loop.create_future()
        self._pending.append((query, future))
        if self._drainer is None or self._drainer.done() or self._drainer.get_loop() is not loop:
            self._drainer = loop.create_task(self._drain())
        matches = await future
        if banks is None:
            return matches
        wanted = set(banks)
        return [m for m in matches if m.bank in wanted]

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            queries = [query for query, _ in batch]
            try:
                results = await self._thread.run(self._matcher.search, queries)
            except Exception as exc:  # the scan failed: every caller of this batch gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), matches in zip(batch, results, strict=True):
                if not future.done():  # a caller that went away cancelled its future
                    future.set_result(matches)

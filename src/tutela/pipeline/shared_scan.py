"""Items matched at the same time on different threads share one index scan.

Why: a PDQ scan of 1M entries costs ~1.8 ms of CPU for one hash and ~0.5 ms per hash in a batch of 16, and
inline items (`tutela.pipeline.inline`) are matched on the request threads, several at once under load. The
API's `LookupBatcher` does this for the event loop; this does it for threads, without a thread of its own:
the first caller scans at once (an idle server adds no wait), callers arriving meanwhile queue, and when a
scan ends its caller hands the lead to the oldest queued caller, whose scan takes every queued request (up
to `max_batch`). No caller scans for longer than its own batch, so none is held up serving others.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tutela.matcher import Match, Matcher
from tutela.signals.extract import Extraction

MAX_BATCH = 64


class _Request:
    __slots__ = ("error", "extraction", "ready", "result")

    def __init__(self, extraction: Extraction) -> None:
        self.extraction = extraction
        self.ready = threading.Event()
        self.result: list[Match] | None = None
        self.error: BaseException | None = None


class SharedScan:
    """`match(extraction)` is `Matcher.match_many([extraction])[0]`, batched with concurrent callers."""

    def __init__(self, matcher: Matcher, *, max_batch: int = MAX_BATCH) -> None:
        self._matcher = matcher
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queued: list[_Request] = []
        self._scanning = False

    def match(self, extraction: Extraction) -> list[Match]:
        request = _Request(extraction)
        with self._lock:
            self._queued.append(request)
            lead = not self._scanning
            self._scanning = True
        if not lead:
            request.ready.wait()
        if request.result is None and request.error is None:  # handed the lead: scan for the queue
            self._scan()
        if request.error is not None:
            raise request.error
        if request.result is None:  # every path above sets one or the other
            raise RuntimeError("shared scan ended without a result")
        return request.result

    def _scan(self) -> None:
        with self._lock:
            batch = self._queued[: self._max_batch]
            del self._queued[: self._max_batch]
        try:
            results: Sequence[list[Match]] = self._matcher.match_many([r.extraction for r in batch])
        except BaseException as exc:  # every caller of this batch gets the error
            for request in batch:
                request.error = exc
        else:
            for request, matches in zip(batch, results, strict=True):
                request.result = matches
        with self._lock:
            if self._queued:
                self._queued[0].ready.set()  # its caller leads the next scan
            else:
                self._scanning = False
        for request in batch:
            request.ready.set()

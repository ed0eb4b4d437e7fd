"""Keep the in-memory indexes equal to the banks, and turn extracted signals into matches.

The indexes are loaded once (entries in ascending id order, straight into the packed PDQ index) and then
follow the bank change log: `sync()` applies every change with a sequence number above the last one seen, so
an added or disabled entry is visible to the next query with no rebuild, in this process or any other.

The log is trimmed after `bank_change_retention_hours`. An index that fell behind the trimmed part (a process
paused or cut off from the database for longer than that) cannot catch up from the log: `sync()` then loads
every bank and entry into new indexes and swaps them in, and queries use the old ones until then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutela.banks.changes import CURRENT_SEQ, changes_since, current_seq, feed_gap, oldest_seq
from tutela.banks.models import Bank, BankEntry, ChangeOp
from tutela.db.driver import DriverQuery
from tutela.db.session import Database
from tutela.matching import ExactIndex, PdqIndex
from tutela.matching.pdq_index import TABLE_MIN_ROWS
from tutela.matching.warmup import warm_up_matching
from tutela.ops.collector import collector_paused
from tutela.signals.extract import Extraction
from tutela.signals.pdq.signal import PDQ

if TYPE_CHECKING:
    from tutela.db.change_probe import ChangeProbe

DIHEDRAL_NAMES = (
    "original",
    "rot90",
    "rot180",
    "rot270",
    "flip_top_bottom",
    "flip_left_right",
    "transpose",
    "anti_transpose",
)
_LOAD_BATCH = 50_000
_CURRENT_SEQ = DriverQuery(CURRENT_SEQ)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Match:
    """A signal hitting a bank entry; `transform` names the dihedral variant that matched, if not as is."""

    bank: str
    category: str
    entry_id: int
    signal_type: str
    distance: int
    transform: str | None = None


@dataclass(frozen=True, slots=True)
class _BankInfo:
    name: str
    category: str


class Matcher:
    """PDQ and exact indexes over every bank, following the change log of one database."""

    def __init__(
        self,
        database: Database,
        *,
        low_quality_threshold: int | None,
        min_quality: int,
        threads: int | None = None,
        chunk_tables: bool = False,
    ) -> None:
        self._database = database
        self._min_quality = min_quality
        self._low_quality_threshold = low_quality_threshold
        # None: low-quality hashes (flat images) never match perceptually: neither indexed nor queried.
        self._low_quality_matches = low_quality_threshold is not None
        self.pdq = PdqIndex(
            low_quality_threshold=low_quality_threshold or 0, threads=threads, chunk_tables=chunk_tables
        )
        self.exact = ExactIndex()
        self._banks: dict[int, _BankInfo] = {}
        self._seq = 0
        self._max_entry_id = 0
        self._synced_at = 0.0
        self._reloads = 0
        self._sync_lock = threading.Lock()  # the request thread and the sync loop may both call sync()

    @property
    def seq(self) -> int:
        """The last change sequence number applied to the indexes."""
        return self._seq

    @property
    def synced_at(self) -> float:
        """`time.monotonic()` when the indexes last caught up with the change log (load or sync)."""
        return self._synced_at

    @property
    def reloads(self) -> int:
        """How many times `sync()` found the change log trimmed past this index and reloaded it in full."""
        return self._reloads

    def load(self) -> None:
        """Load every bank and entry, remembering the change sequence the snapshot corresponds to."""
        warm_up_matching()
        with self._sync_lock, self._database.read() as session:
            self._load_all(session)

    def _load_all(self, session: Session) -> None:
        with collector_paused():  # see tutela.ops.collector
            self._seq = current_seq(session)
            for bank in session.scalars(select(Bank)):
                self._apply_bank(bank)
            self._load_entries_after(session, 0)
        self._synced_at = time.monotonic()

    def _reload(self, session: Session) -> None:
        """Load new indexes in full, then put them in place of these (queries go on meanwhile)."""
        logger.warning(
            "match index at bank change %d is behind the trimmed change log (oldest kept: %s): reloading it",
            self._seq,
            oldest_seq(session),
        )
        fresh = Matcher(
            self._database,
            low_quality_threshold=self._low_quality_threshold,
            min_quality=self._min_quality,
            threads=self.pdq.threads,
            chunk_tables=self.pdq.chunk_tables,
        )
        fresh._load_all(session)
        # the old PDQ index's query threads exit once it is garbage collected
        self.pdq, self.exact, self._banks = fresh.pdq, fresh.exact, fresh._banks
        self._max_entry_id, self._seq, self._synced_at = fresh._max_entry_id, fresh._seq, fresh._synced_at
        self._reloads += 1

    def sync(self, *, via: ChangeProbe | None = None) -> int:
        """Apply the changes committed since the last sync; returns how many were applied (after a full
        reload, how many of them were still in the log).

        Every lease and every `index_sync_seconds` calls this, so the usual answer, nothing new, comes
        from one prebuilt statement before any ORM session is opened: on the polling loop's own connection
        when `via` has one (`ChangeProbe.rows`), else on a bare pooled connection."""
        with self._sync_lock:
            started = time.monotonic()
            rows = None if via is None else via.rows(_CURRENT_SEQ, {})
            if rows is None:
                with self._database.connect() as connection:
                    rows = _CURRENT_SEQ.rows(connection, {})
            newest = rows[0][0]
            if newest == self._seq:
                self._synced_at = started  # caught up with what was committed when the read began
                return 0
            return self._apply_changes(newest)

    def confirm_current(self, at: float) -> None:
        """Nothing was committed since this index's last sync read the change log (a `ChangeProbe` said so):
        it is current as of `at` (`time.monotonic()` before that probe looked)."""
        with self._sync_lock:
            self._synced_at = max(self._synced_at, at)

    def _apply_changes(self, newest: int) -> int:
        """Apply the logged changes after this index's sequence; `newest` is the counter as read before.

        A sequence number can have no logged change (an import that added nothing), so the index moves to
        `newest` even past its last logged change: every number up to it had committed when it was read, and
        the read below sees all of their rows. Otherwise such a number at the head of the log would make
        every later sync read the log again, finding nothing."""
        with self._database.read() as session:
            changes = changes_since(session, self._seq)
            if feed_gap(session, self._seq):  # asked after reading the changes: see its docstring
                self._reload(session)
                return len(changes)
            self._synced_at = time.monotonic()  # caught up with what was committed when the read began
            if not changes:
                self._seq = max(self._seq, newest)
                return 0
            new_entries = False
            for change in changes:
                if change.op in (ChangeOp.ENTRY_ADD, ChangeOp.IMPORT):
                    new_entries = True
                elif change.op in (ChangeOp.BANK_CREATE, ChangeOp.BANK_UPDATE):
                    bank = session.get(Bank, change.bank_id)
                    if bank is not None:
                        self._apply_bank(bank)
                elif change.op is ChangeOp.BANK_DELETE:
                    self.pdq.set_bank(change.bank_id, threshold=0, enabled=False)
                    self.exact.set_bank(change.bank_id, enabled=False)
                elif change.entry_id is not None:
                    self._apply_entry_change(session, change.op, change.entry_id)
            if new_entries:
                self._load_entries_after(session, self._max_entry_id)
            self._seq = max(changes[-1].seq, newest)
            return len(changes)

    def lookup(self, signal_type: str, value: str, *, banks: Iterable[str] | None = None) -> list[Match]:
        """Matches of one bare hash: `value` is the validated hex of `signal_type` (a PDQ hash sent without
        a quality counts as usable, as HMA treats it). One index query, no dihedral variants."""
        return self.lookup_many(signal_type, [value], banks=banks)[0]

    def lookup_many(
        self, signal_type: str, values: Sequence[str], *, banks: Iterable[str] | None = None
    ) -> list[list[Match]]:
        """`lookup` of each value, as one batched index query (a PDQ scan of N hashes costs far less than N
        scans of one)."""
        if signal_type == PDQ.name:
            return self.search(values, banks=banks)
        wanted = None if banks is None else set(banks)
        results: list[dict[tuple[str, int], Match]] = [{} for _ in values]
        for found, value in zip(results, values, strict=True):
            exact_hits = self.exact.query(signal_type, bytes.fromhex(value))
            for entry_id, bank_id in zip(
                exact_hits.entry_ids.tolist(), exact_hits.bank_ids.tolist(), strict=True
            ):
                self._keep(found, signal_type, entry_id, bank_id, 0, None)
        return [_ordered(found, wanted) for found in results]

    def match_many(
        self, extractions: Sequence[Extraction], *, banks: Iterable[str] | None = None
    ) -> list[list[Match]]:
        """Matches for each extraction (PDQ, all dihedral variants when present, and exact digests)."""
        return self.search(extractions, banks=banks)

    def search(
        self, queries: Sequence[str | Extraction], *, banks: Iterable[str] | None = None
    ) -> list[list[Match]]:
        """Matches for each query, with one PDQ scan for all: a string is a bare validated PDQ hash (hex),
        answered as `lookup` answers it; an extraction is answered as `match_many` answers it. Callers that
        gather concurrent requests (the API's `LookupBatcher`) mix both kinds in one scan."""
        wanted = None if banks is None else set(banks)
        hashes: list[bytes] = []
        low: list[bool] = []
        owners: list[tuple[int, int]] = []  # (query index, dihedral variant index)
        for index, query in enumerate(queries):
            if isinstance(query, str):  # a bare hash: usable quality, as HMA treats one
                hashes.append(bytes.fromhex(query))
                low.append(False)
                owners.append((index, 0))
                continue
            if query.pdq is None:
                continue
            low_quality = query.pdq.quality < self._min_quality
            if low_quality and not self._low_quality_matches:
                continue
            variants = query.pdq.dihedral or (query.pdq.hash,)
            for variant_index, variant in enumerate(variants):
                hashes.append(variant)
                low.append(low_quality)
                owners.append((index, variant_index))
        results: list[dict[tuple[str, int], Match]] = [{} for _ in queries]
        if hashes:
            packed = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)
            for (index, variant_index), hits in zip(
                owners, self.pdq.query(packed, np.array(low, dtype=np.bool_)), strict=True
            ):
                transform = DIHEDRAL_NAMES[variant_index] if variant_index else None
                for entry_id, bank_id, distance in zip(
                    hits.entry_ids.tolist(), hits.bank_ids.tolist(), hits.distances.tolist(), strict=True
                ):
                    self._keep(
                        results[index], PDQ.name, int(entry_id), int(bank_id), int(distance), transform
                    )
        for index, query in enumerate(queries):
            if isinstance(query, str):
                continue
            for signal in query.signals:
                if signal.type == PDQ.name:
                    continue
                exact_hits = self.exact.query(signal.type, bytes.fromhex(signal.value))
                for entry_id, bank_id in zip(
                    exact_hits.entry_ids.tolist(), exact_hits.bank_ids.tolist(), strict=True
                ):
                    self._keep(results[index], signal.type, int(entry_id), int(bank_id), 0, None)
        return [_ordered(found, wanted) for found in results]

    def _keep(
        self,
        found: dict[tuple[str, int], Match],
        signal_type: str,
        entry_id: int,
        bank_id: int,
        distance: int,
        transform: str | None,
    ) -> None:
        """Record a hit, keeping the closest variant when several dihedral variants hit one entry."""
        bank = self._banks.get(bank_id)
        if bank is None:
            return
        key = (signal_type, entry_id)
        previous = found.get(key)
        if previous is None or distance < previous.distance:
            found[key] = Match(bank.name, bank.category, entry_id, signal_type, distance, transform)

    def _is_low(self, quality: int | None) -> bool:
        """Low quality: a known quality under the minimum (imported hashes without a quality are not)."""
        return quality is not None and quality < self._min_quality

    def _apply_bank(self, bank: Bank) -> None:
        self._banks[bank.id] = _BankInfo(bank.name, bank.category.value)
        self.pdq.set_bank(bank.id, threshold=bank.pdq_threshold, enabled=bank.enabled)
        self.exact.set_bank(bank.id, enabled=bank.enabled)

    def _apply_entry_change(self, session: Session, op: ChangeOp, entry_id: int) -> None:
        if op is ChangeOp.ENTRY_DELETE:
            self.pdq.remove(entry_id)
            self.exact.remove(entry_id)
        elif op in (ChangeOp.ENTRY_ENABLE, ChangeOp.ENTRY_DISABLE):
            entry = session.get(BankEntry, entry_id)
            enabled = entry is not None and entry.enabled
            self.pdq.set_enabled(entry_id, enabled)
            self.exact.set_enabled(entry_id, enabled)

    def _load_entries_after(self, session: Session, after_id: int) -> None:
        """Append entries with id > `after_id`, in ascending id order, in batches.

        Each batch becomes a segment of the PDQ index; after a load large enough for chunk tables, the
        segments are merged so that the tables cover them (at 1M entries ~0.3 s, queries going on)."""
        loaded = 0
        while True:
            rows = session.execute(
                select(
                    BankEntry.id,
                    BankEntry.bank_id,
                    BankEntry.signal_type,
                    BankEntry.value,
                    BankEntry.quality,
                    BankEntry.enabled,
                )
                .where(BankEntry.id > after_id)
                .order_by(BankEntry.id)
                .limit(_LOAD_BATCH)
            ).all()
            if not rows:
                break
            self._add_rows(rows)
            loaded += len(rows)
            after_id = rows[-1][0]
            self._max_entry_id = max(self._max_entry_id, after_id)
        if self.pdq.chunk_tables and loaded >= TABLE_MIN_ROWS:
            self.pdq.compact()

    def _add_rows(self, rows: Sequence[tuple[int, int, str, str, int | None, bool]]) -> None:
        pdq_rows = [
            r for r in rows if r[2] == PDQ.name and (self._low_quality_matches or not self._is_low(r[4]))
        ]
        if pdq_rows:
            self.pdq.add(
                np.array([r[0] for r in pdq_rows], dtype=np.int64),
                np.array([r[1] for r in pdq_rows], dtype=np.int64),
                np.frombuffer(bytes.fromhex("".join(r[3] for r in pdq_rows)), dtype=np.uint8).reshape(-1, 32),
                np.array([self._is_low(r[4]) for r in pdq_rows], dtype=np.bool_),
            )
        self.exact.add((r[0], r[1], r[2], bytes.fromhex(r[3])) for r in rows if r[2] != PDQ.name)
        for entry_id, _bank, signal_type, _value, _quality, enabled in rows:
            if not enabled:
                index = self.pdq if signal_type == PDQ.name else self.exact
                index.set_enabled(entry_id, False)


def _ordered(found: dict[tuple[str, int], Match], banks: set[str] | None) -> list[Match]:
    """The matches in the wanted banks (all when None), closest first."""
    return sorted(
        (m for m in found.values() if banks is None or m.bank in banks),
        key=lambda m: (m.distance, m.bank, m.entry_id),
    )

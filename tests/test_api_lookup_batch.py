"""Concurrent lookups share index scans and answer exactly what one lookup at a time answers: bare PDQ hashes
as `Matcher.lookup`, extractions (uploads; dihedral variants, low quality, exact digests) as `match_many`."""

from __future__ import annotations

import asyncio
import random

from tests.api_support import harness
from tutela.api.lookup_batch import LookupBatcher
from tutela.banks import BankCategory
from tutela.matcher import Match
from tutela.settings import Settings
from tutela.signals.base import Signal
from tutela.signals.extract import Extraction
from tutela.signals.pdq.hasher import PdqResult


def _near(value: str, rng: random.Random, bits: int) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def test_batched_lookups_equal_single_lookups(settings: Settings) -> None:
    rng = random.Random(5)
    with harness(settings) as api:
        banks, matcher = api.tutela.banks, api.tutela.matcher
        banks.create_bank("ONE", BankCategory.OTHER)
        banks.create_bank("TWO", BankCategory.OTHER)
        stored = [f"{rng.getrandbits(256):064x}" for _ in range(40)]
        for index, value in enumerate(stored):
            banks.add_entry("ONE" if index % 2 else "TWO", Signal("pdq", value), added_by="test")
        matcher.sync()
        queries = [_near(v, rng, rng.randrange(0, 40)) for v in stored] + ["0" * 64]
        bank_choices = [None, ["ONE"], ["TWO", "ONE"], ["NONE"]]
        asked = [(q, bank_choices[i % len(bank_choices)]) for i, q in enumerate(queries)]

        async def all_at_once() -> list[list[Match]]:
            batcher = LookupBatcher(matcher, max_batch=8)
            try:
                return list(await asyncio.gather(*(batcher.lookup(q, b) for q, b in asked)))
            finally:
                batcher.close()

        batched = asyncio.run(all_at_once())
        assert batched == [matcher.lookup("pdq", q, banks=b) for q, b in asked]
        assert any(batched)  # some queries are near enough to match


def _extraction(
    rng: random.Random, stored: list[str], digest: str, *, dihedral: bool, quality: int
) -> Extraction:
    """An extraction near a stored hash; with `dihedral`, its variants are near other stored hashes."""
    picks = [_near(rng.choice(stored), rng, rng.randrange(0, 40)) for _ in range(8 if dihedral else 1)]
    variants = tuple(bytes.fromhex(v) for v in picks) if dihedral else None
    pdq = PdqResult(bytes.fromhex(picks[0]), quality, "pdq-fast/1", variants)
    signals = (Signal("pdq", picks[0], quality), Signal("md5", digest))
    return Extraction(signals=signals, pdq=pdq)


def test_batched_extractions_and_hashes_equal_match_many(settings: Settings) -> None:
    rng = random.Random(6)
    low_quality = settings.model_copy(update={"pdq_low_quality_threshold": 20})
    with harness(low_quality) as api:
        banks, matcher = api.tutela.banks, api.tutela.matcher
        banks.create_bank("ONE", BankCategory.OTHER)
        banks.create_bank("TWO", BankCategory.OTHER)
        stored = [f"{rng.getrandbits(256):064x}" for _ in range(40)]
        digests = [f"{rng.getrandbits(128):032x}" for _ in range(10)]
        for index, value in enumerate([*stored, *digests]):
            kind = "pdq" if len(value) == 64 else "md5"
            banks.add_entry("ONE" if index % 2 else "TWO", Signal(kind, value), added_by="test")
        matcher.sync()
        queries: list[str | Extraction] = []
        for index in range(48):
            if index % 3 == 0:
                queries.append(_near(rng.choice(stored), rng, rng.randrange(0, 40)))
            else:
                digest = digests[index % 10] if index % 2 else f"{index:032x}"
                quality = 10 if index % 5 == 0 else 90  # some under pdq_min_quality
                queries.append(_extraction(rng, stored, digest, dihedral=index % 3 == 1, quality=quality))
        bank_choices = [None, ["ONE"], ["TWO", "ONE"], ["NONE"]]
        asked = [(q, bank_choices[i % len(bank_choices)]) for i, q in enumerate(queries)]

        async def ask(
            batcher: LookupBatcher, query: str | Extraction, chosen: list[str] | None
        ) -> list[Match]:
            if isinstance(query, str):
                return await batcher.lookup(query, chosen)
            return await batcher.match(query, chosen)

        async def all_at_once() -> list[list[Match]]:
            batcher = LookupBatcher(matcher, max_batch=8)
            try:
                return list(await asyncio.gather(*(ask(batcher, q, b) for q, b in asked)))
            finally:
                batcher.close()

        batched = asyncio.run(all_at_once())
        one_at_a_time = [
            matcher.lookup("pdq", q, banks=b) if isinstance(q, str) else matcher.match_many([q], banks=b)[0]
            for q, b in asked
        ]
        assert batched == one_at_a_time
        assert any(m.transform for found in batched for m in found)  # a dihedral variant matched
        assert any(m.signal_type == "md5" for found in batched for m in found)

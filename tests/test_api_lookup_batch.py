"""Concurrent lookups by PDQ hash share index scans and answer exactly what one lookup at a time answers."""

from __future__ import annotations

import asyncio
import random

from tests.api_support import harness
from tutela.api.lookup_batch import LookupBatcher
from tutela.banks import BankCategory
from tutela.settings import Settings
from tutela.signals.base import Signal


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

        async def all_at_once() -> list[list[object]]:
            batcher = LookupBatcher(matcher, max_batch=8)
            try:
                return list(await asyncio.gather(*(batcher.lookup(q, b) for q, b in asked)))
            finally:
                batcher.close()

        batched = asyncio.run(all_at_once())
        assert batched == [matcher.lookup("pdq", q, banks=b) for q, b in asked]
        assert any(batched)  # some queries are near enough to match

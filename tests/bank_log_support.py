"""Helpers for tests of the bank change log: a writer with one bank, random PDQ entries, aged changes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import update

from tutela.app import Tutela
from tutela.banks import BankCategory
from tutela.banks.models import BankChange
from tutela.db.types import utc_now
from tutela.settings import Settings
from tutela.signals import Signal

OLD = utc_now() - timedelta(days=30)


@contextmanager
def writer_with_bank(settings: Settings, bank: str) -> Iterator[Tutela]:
    """A Tutela holding one bank, closed afterwards: the process that makes the changes."""
    app = Tutela.open(settings)
    app.banks.create_bank(bank, BankCategory.OWN_CONFIRMED)
    try:
        yield app
    finally:
        app.close()


def random_pdq(rng: random.Random) -> str:
    """A random 256-bit PDQ hash (hex): no image behind it, and ~128 bits from any other."""
    return f"{rng.getrandbits(256):064x}"


def add_pdq(app: Tutela, bank: str, value: str) -> int:
    return app.banks.add_entry(bank, Signal("pdq", value, quality=100)).id


def age_changes(app: Tutela, through_seq: int) -> None:
    """Backdate the changes up to `through_seq`, as if they were made a month ago."""
    with app.database.write() as session:
        session.execute(update(BankChange).where(BankChange.seq <= through_seq).values(changed_at=OLD))

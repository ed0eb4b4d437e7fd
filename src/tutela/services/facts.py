"""A service's name and switched-off banks, as the pipeline reads them for every item it works: cached.

Why: reading them took two statements and ~1 ms of CPU per item worked inline, for facts that change only
when an admin switches a bank for a service or renames a bank. A change made in this process clears the
cache at once (the store's and the bank feed's hooks); another process's change is seen within
`index_sync_seconds`, the same bound as a bank change reaching this process's index. An unknown service
is never cached: another process may create it. The refresh, about ten times a second per server process,
reads on the driver's cursor (`tutela.db.driver`): through `Connection.execute` it cost ~1 ms of CPU.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from tutela.banks.models import Bank
from tutela.db.driver import DriverQuery
from tutela.db.session import Database
from tutela.services.models import Service, ServiceBank

DISABLED_BANKS = (
    select(ServiceBank.service_id, Bank.name)
    .join(Bank, Bank.id == ServiceBank.bank_id)
    .where(
        ServiceBank.service_id.in_(bindparam("service_ids", expanding=True)),
        ServiceBank.enabled.is_(False),
    )
)
"""(service id, bank name) of every bank switched off for the given services; built once."""
_FACTS = DriverQuery(
    select(Service.name, Bank.name)
    .select_from(Service)
    .outerjoin(ServiceBank, (ServiceBank.service_id == Service.id) & ServiceBank.enabled.is_(False))
    .outerjoin(Bank, Bank.id == ServiceBank.bank_id)
    .where(Service.id == bindparam("service_id"))
)
"""(service name, switched-off bank name or NULL): one statement, so one snapshot."""


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    """What the policy and the matcher need of a service."""

    name: str
    disabled_banks: frozenset[str]


def read_service_facts(database: Database, service_id: int) -> ServiceFacts | None:
    """A service's facts from the database, or None for an unknown service."""
    with database.connect() as connection:
        rows = _FACTS.rows(connection, {"service_id": service_id})
    if not rows:
        return None
    return ServiceFacts(rows[0][0], frozenset(bank for _, bank in rows if bank is not None))


class ServiceFactsCache:
    """`get(service_id)` answers from memory for up to `max_age_seconds`; `clear()` after local changes."""

    def __init__(self, database: Database, max_age_seconds: float) -> None:
        self._database = database
        self._max_age = max_age_seconds
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, ServiceFacts]] = {}
        self._generation = 0

    def get(self, service_id: int) -> ServiceFacts | None:
        now = time.monotonic()
        cached = self._entries.get(service_id)
        if cached is not None and now - cached[0] < self._max_age:
            return cached[1]
        generation = self._generation
        facts = read_service_facts(self._database, service_id)
        with self._lock:
            # A clear() while reading means the read may predate the change: do not keep it.
            if facts is not None and generation == self._generation:
                self._entries[service_id] = (now, facts)
        return facts

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

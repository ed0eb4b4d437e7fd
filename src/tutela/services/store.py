"""Create and look up services, and switch banks per service."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select

from tutela.banks.models import Bank
from tutela.db.session import Database
from tutela.errors import AlreadyExists, InvalidInput, NotFound
from tutela.services.models import Service, ServiceBank

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")


class ServiceStore:
    """Persistence of services and their bank switches."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each committed change of a bank switch (caches of service facts)."""
        self._listeners.append(listener)

    def create(self, name: str, description: str = "") -> Service:
        if not _NAME.fullmatch(name):
            raise InvalidInput(f"service name {name!r}: use lower-case letters, digits, - and _ (max 100)")
        with self.database.write() as session:
            if session.scalar(select(Service.id).where(Service.name == name)) is not None:
                raise AlreadyExists(f"a service named {name!r} already exists")
            service = Service(name=name, description=description)
            session.add(service)
            session.flush()
            return service

    def get(self, name: str) -> Service:
        with self.database.read() as session:
            service = session.scalar(select(Service).where(Service.name == name))
        if service is None:
            raise NotFound(f"no service named {name!r}")
        return service

    def get_by_id(self, service_id: int) -> Service:
        with self.database.read() as session:
            service = session.get(Service, service_id)
        if service is None:
            raise NotFound(f"no service with id {service_id}")
        return service

    def list(self) -> list[Service]:
        with self.database.read() as session:
            return list(session.scalars(select(Service).order_by(Service.name)))

    def set_bank_enabled(self, service_id: int, bank_name: str, enabled: bool) -> None:
        with self.database.write() as session:
            bank_id = session.scalar(select(Bank.id).where(Bank.name == bank_name))
            if bank_id is None:
                raise NotFound(f"no bank named {bank_name!r}")
            row = session.get(ServiceBank, (service_id, bank_id))
            if row is None:
                session.add(ServiceBank(service_id=service_id, bank_id=bank_id, enabled=enabled))
            else:
                row.enabled = enabled
        for listener in self._listeners:
            listener()

    def disabled_bank_ids(self, service_id: int) -> set[int]:
        """Banks switched off for this service (every other enabled bank applies)."""
        with self.database.read() as session:
            return set(
                session.scalars(
                    select(ServiceBank.bank_id).where(
                        ServiceBank.service_id == service_id, ServiceBank.enabled.is_(False)
                    )
                )
            )

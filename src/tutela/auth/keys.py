"""API keys: a public prefix to find the key, and the SHA-256 of its secret to check it.

The full key (`tut_<prefix>_<secret>`) is shown once, at creation; the database holds only the prefix and the
digest, so a database leak yields no usable key. Checking is one dictionary lookup and one SHA-256 (a few
microseconds); verified keys are cached for `key_cache_seconds` so a revocation takes effect within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from tutela.auth.permissions import Role
from tutela.db.base import Base
from tutela.db.session import Database
from tutela.db.types import UtcDateTime, utc_now
from tutela.errors import InvalidInput, NotFound

KEY_PREFIX = "tut"


class ApiKey(Base):
    """A stored API key: never the secret, only its digest."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(32))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key, its role, and the service a platform key is confined to."""

    key_id: int
    key_prefix: str
    role: Role
    service_id: int | None


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key; `token` is shown once and never stored."""

    id: int
    token: str
    prefix: str
    role: Role
    service_id: int | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    """Create, verify and revoke API keys."""

    def __init__(self, database: Database, cache_seconds: float = 5.0) -> None:
        self.database = database
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def create(self, role: Role, *, service_id: int | None = None, name: str = "") -> NewKey:
        if role is Role.PLATFORM and service_id is None:
            raise InvalidInput("a platform key must belong to a service")
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(24)
        with self.database.write() as session:
            key = ApiKey(
                prefix=prefix,
                secret_sha256=_digest(secret),
                name=name,
                role=role.value,
                service_id=service_id,
            )
            session.add(key)
            session.flush()
            key_id = key.id
        return NewKey(key_id, f"{KEY_PREFIX}_{prefix}_{secret}", prefix, role, service_id)

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked key, else None (never an exception for a bad token)."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        _, prefix, secret = parts
        key = self._lookup(prefix)
        if key is None or key.revoked_at is not None:
            return None
        if not hmac.compare_digest(key.secret_sha256, _digest(secret)):
            return None
        return Principal(key.id, key.prefix, Role(key.role), key.service_id)

    def revoke(self, prefix: str) -> None:
        with self.database.write() as session:
            key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            if key is None:
                raise NotFound(f"no API key with prefix {prefix!r}")
            key.revoked_at = utc_now()
        with self._lock:
            self._cache.pop(prefix, None)

    def list(self) -> list[ApiKey]:
        with self.database.read() as session:
            return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))

    def _lookup(self, prefix: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(prefix)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        with self.database.read() as session:
            key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[prefix] = (now, key)
        return key

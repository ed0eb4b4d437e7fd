"""Services: the platforms or apps one Tutela deployment serves.

DSA transparency reports, API keys, items and policies are per service; banks belong to the organisation and
are switched on per service (a bank with no row here is enabled for every service).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import UtcDateTime, utc_now


class Service(Base):
    """One platform or app of the organisation."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ServiceBank(Base):
    """A per-service switch for one bank; absent means enabled."""

    __tablename__ = "service_banks"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

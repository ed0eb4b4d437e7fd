"""Request and response bodies of the /v1 API (pydantic models, so OpenAPI documents them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tutela.banks import Bank, BankCategory, BankEntry


class BankIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["ncmec-md5"])
    category: BankCategory
    description: str = ""
    source: str = Field("", description="Who supplied the list.")
    licence: str = Field("", description="Licence or terms of the list.")
    exportable: bool = Field(False, description="Whether export is allowed (NCMEC/StopNCII: no).")
    enabled: bool = True
    pdq_threshold: int | None = Field(None, ge=0, le=256, description="Default: the pdq_threshold setting.")


class BankPatch(BaseModel):
    description: str | None = None
    source: str | None = None
    licence: str | None = None
    category: BankCategory | None = None
    exportable: bool | None = None
    enabled: bool | None = None
    pdq_threshold: int | None = Field(None, ge=0, le=256)


class BankOut(BaseModel):
    name: str
    category: BankCategory
    description: str
    source: str
    licence: str
    exportable: bool
    enabled: bool
    pdq_threshold: int
    created_at: datetime
    entries: int | None = None

    @classmethod
    def of(cls, bank: Bank, entries: int | None = None) -> BankOut:
        return cls(
            name=bank.name,
            category=bank.category,
            description=bank.description,
            source=bank.source,
            licence=bank.licence,
            exportable=bank.exportable,
            enabled=bank.enabled,
            pdq_threshold=bank.pdq_threshold,
            created_at=bank.created_at,
            entries=entries,
        )


class EntryIn(BaseModel):
    signal_type: str = Field("pdq", examples=["pdq", "md5"])
    value: str = Field(min_length=1, max_length=512)
    quality: int | None = Field(None, ge=0, le=100)
    source_id: str | None = Field(None, max_length=255)
    note: str | None = Field(None, max_length=2000)
    enabled: bool = True


class EntryPatch(BaseModel):
    enabled: bool


class EntryOut(BaseModel):
    id: int
    bank: str
    signal_type: str
    value: str
    quality: int | None
    variant: str | None
    source_id: str | None
    added_by: str | None
    added_at: datetime
    note: str | None
    enabled: bool

    @classmethod
    def of(cls, bank_name: str, entry: BankEntry) -> EntryOut:
        return cls(
            id=entry.id,
            bank=bank_name,
            signal_type=entry.signal_type,
            value=entry.value,
            quality=entry.quality,
            variant=entry.variant,
            source_id=entry.source_id,
            added_by=entry.added_by,
            added_at=entry.added_at,
            note=entry.note,
            enabled=entry.enabled,
        )


class LineErrorOut(BaseModel):
    line: int
    message: str


class ImportOut(BaseModel):
    bank: str
    added: int
    duplicates: int
    errors: int
    first_errors: list[LineErrorOut]

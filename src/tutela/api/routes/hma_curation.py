"""HMA-compatible curation routes: /c/banks, /c/bank/{name}, its /signal and /content (differences from HMA:
tutela.api.routes.hma_common)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tutela.api.body_limit import own_upload_limit
from tutela.api.routes.hma_common import (
    App,
    BanksRead,
    BanksWrite,
    EntriesWrite,
    Types,
    extract_requested,
    fetch_content,
    upload_bytes,
)
from tutela.app import Tutela
from tutela.auth import Principal
from tutela.banks import Bank, BankCategory
from tutela.errors import AlreadyExists
from tutela.signals.base import Signal

router = APIRouter(tags=["hma"])

HMA_BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


class BankCreate(BaseModel):
    name: str = Field(examples=["MY_BANK"], description="UPPER_WITH_UNDERSCORE, as HMA requires.")
    enabled_ratio: float | None = Field(None, description="1.0 (on) or 0.0 (off); wins over `enabled`.")
    enabled: bool | None = None
    category: BankCategory = Field(BankCategory.OTHER, description="Tutela extension; HMA has none.")


class BankUpdate(BaseModel):
    name: str | None = Field(None, description="Rename the bank.")
    enabled_ratio: float | None = None
    enabled: bool | None = None


@router.get("/c/banks")
def list_banks(app: App, _: BanksRead) -> list[dict[str, Any]]:
    """Every bank as `{"name", "matching_enabled_ratio"}`."""
    return [_bank(bank) for bank in app.banks.list_banks()]


@router.post("/c/banks", status_code=201)
def create_bank(app: App, _: BanksWrite, body: BankCreate) -> dict[str, Any]:
    _check_hma_name(body.name)
    enabled = _enabled(body.enabled_ratio, body.enabled)
    return _bank(
        app.banks.create_bank(body.name, body.category, enabled=True if enabled is None else enabled)
    )


@router.get("/c/bank/{name}")
def get_bank(name: str, app: App, _: BanksRead) -> dict[str, Any]:
    return _bank(app.banks.get_bank(name))


@router.put("/c/bank/{name}")
def update_bank(name: str, app: App, _: BanksWrite, body: BankUpdate) -> dict[str, Any]:
    if body.name is not None:
        _check_hma_name(body.name)
    enabled = _enabled(body.enabled_ratio, body.enabled)
    return _bank(app.banks.update_bank(name, new_name=body.name, enabled=enabled))


@router.delete("/c/bank/{name}")
def delete_bank(name: str, app: App, _: BanksWrite) -> dict[str, str]:
    app.banks.delete_bank(name)
    return {"message": "Done"}


@router.post("/c/bank/{name}/signal")
def add_signals(
    name: str, app: App, principal: EntriesWrite, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Add hashes directly, `{"pdq": "<hex>", ...}` -> `{"id": <content id>, "signals": {...}}`."""
    app.banks.get_bank(name)
    if not body or not all(isinstance(v, str) for v in body.values()):
        raise HTTPException(400, 'send a JSON object of signal type to hash value, e.g. {"pdq": "..."}')
    return _bank_signals(app, name, [Signal(t, v) for t, v in body.items()], principal, None)


@router.post("/c/bank/{name}/content")
@own_upload_limit
async def add_content(
    name: str,
    request: Request,
    app: App,
    principal: EntriesWrite,
    url: str | None = None,
    types: Types = None,
) -> dict[str, Any]:
    """Hash content given by `url` or uploaded (multipart) and add its signals to the bank; a JSON body
    `{"metadata": {"content_id": ...}}` with `url` records the platform's content id on the entries."""
    await run_in_threadpool(app.banks.get_bank, name)
    source_id: str | None = None
    if url:
        source_id = await _metadata_content_id(request)  # a bad body is refused before the fetch
        data = await run_in_threadpool(fetch_content, app, url)
    elif request.headers.get("content-type", "").startswith("multipart/form-data"):
        data = await upload_bytes(request, app)
    else:
        raise HTTPException(400, "neither `url` nor a multipart file upload was received")
    signals = (await extract_requested(app, data, types))[1]
    return await run_in_threadpool(_bank_signals, app, name, signals, principal, source_id)


def _bank(bank: Bank) -> dict[str, Any]:
    return {"name": bank.name, "matching_enabled_ratio": 1.0 if bank.enabled else 0.0}


def _check_hma_name(name: str) -> None:
    if not HMA_BANK_NAME.fullmatch(name):
        raise HTTPException(400, f"bank name {name!r} must be UPPER_WITH_UNDERSCORE ([A-Z_][A-Z0-9_]*)")


def _enabled(ratio: float | None, enabled: bool | None) -> bool | None:
    """HMA's ratio or switch as Tutela's switch; None when neither is given."""
    if ratio is None:
        return enabled
    if ratio not in (0.0, 1.0):
        raise HTTPException(422, f"Tutela banks are on or off: enabled_ratio must be 0.0 or 1.0, got {ratio}")
    return ratio == 1.0


async def _metadata_content_id(request: Request) -> str | None:
    """The `content_id` of a JSON body's `metadata`, if given; 400 for a body that is not a JSON object."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, nesting too deep
        raise HTTPException(400, f"the body is not valid JSON ({exc}): send a JSON object") from exc
    if not isinstance(body, dict):
        raise HTTPException(400, 'the body must be a JSON object, e.g. {"metadata": {"content_id": "..."}}')
    metadata = body.get("metadata")
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise HTTPException(400, "metadata should be a JSON object")
    content_id = metadata.get("content_id")
    return None if content_id is None else str(content_id)


def _bank_signals(
    app: Tutela, bank: str, signals: list[Signal], principal: Principal, source_id: str | None
) -> dict[str, Any]:
    """Add each signal as an entry (or find the entry already holding it); HMA's `{"id", "signals"}`."""
    entries = []
    for signal in signals:
        try:
            entry = app.banks.add_entry(
                bank, signal, source_id=source_id, added_by=f"key:{principal.key_prefix}"
            )
        except AlreadyExists:
            entry = app.banks.find_entry(bank, signal)
        entries.append(entry)
    return {"id": entries[0].id, "signals": {e.signal_type: e.value for e in entries}}

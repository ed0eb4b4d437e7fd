"""HMA-compatible routes: Hasher-Matcher-Actioner's paths, parameters and JSON shapes over Tutela's banks.

An HMA client switches to Tutela by changing its base URL (and sending an API key, or calling from a network
listed in `hma_open_networks`). What differs from HMA, and why:
- Banks are on or off, so `enabled_ratio` must be 0.0 or 1.0; `seed` and `bypass_coinflip` are accepted and
  have no effect (a disabled bank is out of the index, so `bypass_coinflip` cannot bring it back).
- A bank content id is a Tutela entry id, and Tutela keeps one entry per signal: adding content with two
  signals creates two entries and answers with the first id. Adding a signal the bank already holds answers
  with the existing entry instead of a duplicate.
- Hashing yields `pdq` and `md5` unless `types` asks for others (`sha1`, `sha256`); any single file field
  is accepted as the upload (HMA names it after the content type, e.g. `photo`).
- Creating or renaming a bank here follows HMA's naming rule (UPPER_WITH_UNDERSCORE); banks made through
  /v1 keep their own names and are listed as they are. An existing name answers 409, not HMA's 403.
- `raw_lookup` sees enabled entries only, like `lookup`; errors are Tutela's `{"detail": ...}` bodies, with
  HMA's 400 for bad requests and Tutela's 422 for values that do not validate.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from tutela.api.auth import require
from tutela.api.deps import get_tutela
from tutela.api.lookup_batch import LookupBatcher
from tutela.app import Tutela
from tutela.auth import Permission, Principal
from tutela.banks import Bank, BankCategory
from tutela.errors import AlreadyExists, MediaTooLarge
from tutela.matcher import Match
from tutela.media import MediaLimits
from tutela.net import fetch_with_settings
from tutela.signals.base import Signal
from tutela.signals.extract import Extraction, extract
from tutela.signals.pdq.signal import PDQ
from tutela.signals.registry import SIGNAL_TYPES, get_signal_type

router = APIRouter(tags=["hma"])


App = Annotated[Tutela, Depends(get_tutela)]
Hashing = Annotated[Principal, Depends(require(Permission.HASHES_COMPUTE, hma_open=True))]
Lookup = Annotated[Principal, Depends(require(Permission.MATCHES_LOOKUP, hma_open=True))]
Status = Annotated[Principal, Depends(require(Permission.STATUS_READ, hma_open=True))]
BanksRead = Annotated[Principal, Depends(require(Permission.BANKS_READ, hma_open=True))]
BanksWrite = Annotated[Principal, Depends(require(Permission.BANKS_WRITE, hma_open=True))]
EntriesWrite = Annotated[Principal, Depends(require(Permission.ENTRIES_WRITE, hma_open=True))]
Types = Annotated[str | None, Query(description="Comma-separated signal types; default pdq,md5.")]
Banks = Annotated[str | None, Query(description="Comma-separated bank names to search; default all.")]

DEFAULT_TYPES = ("pdq", "md5")
"""HMA hashes photos with PDQ; MD5 gives content that does not decode (video) a signal, as video_md5 does."""
HMA_BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")

MatchesByBank = dict[str, list[dict[str, Any]]]


class BankCreate(BaseModel):
    name: str = Field(examples=["MY_BANK"], description="UPPER_WITH_UNDERSCORE, as HMA requires.")
    enabled_ratio: float | None = Field(None, description="1.0 (on) or 0.0 (off); wins over `enabled`.")
    enabled: bool | None = None
    category: BankCategory = Field(BankCategory.OTHER, description="Tutela extension; HMA has none.")


class BankUpdate(BaseModel):
    name: str | None = Field(None, description="Rename the bank.")
    enabled_ratio: float | None = None
    enabled: bool | None = None


# -- hashing ----------------------------------------------------------------------------------------------


@router.get("/h/hash")
def hash_url(app: App, _: Hashing, url: Annotated[str, Query()], types: Types = None) -> dict[str, str]:
    """Fetch `url` and return its hashes by signal type, e.g. `{"pdq": "<64 hex>", "md5": "<32 hex>"}`."""
    return _hex(_extract(app, _fetch(app, url), types)[1])


@router.post("/h/hash")
async def hash_upload(request: Request, app: App, _: Hashing, types: Types = None) -> dict[str, str]:
    """Hash one uploaded file (multipart/form-data, any field name)."""
    data = await _upload(request, app)
    return _hex((await run_in_threadpool(_extract, app, data, types))[1])


# -- matching ---------------------------------------------------------------------------------------------


@router.get("/m/lookup")
async def lookup_get(
    request: Request,
    app: App,
    _: Lookup,
    url: str | None = None,
    signal: str | None = None,
    signal_type: str | None = None,
    types: Types = None,
    banks: Banks = None,
    seed: str | None = None,
    bypass_coinflip: bool = False,
) -> dict[str, Any]:
    """Matches of a hash (`signal` + `signal_type`: `{bank: [{bank_content_id, distance}]}`) or of the
    content at `url` (the same per signal type, `{"pdq": {bank: [...]}}`, or one type's if `signal_type`).

    A PDQ hash joins the next batched index scan (`LookupBatcher`); other digests are looked up on the
    event loop (a dict probe); fetching and hashing a URL run in the thread pool."""
    if url:
        data = await run_in_threadpool(_fetch, app, url)
        found = await run_in_threadpool(_lookup_content, app, data, types, banks)
        return found if signal_type is None else found.get(signal_type, {})
    if not signal or not signal_type:
        raise HTTPException(400, "either url, or both signal and signal_type, are required")
    return _by_bank(await _match_hash(request, app, signal, signal_type, banks))


@router.post("/m/lookup")
async def lookup_upload(
    request: Request,
    app: App,
    _: Lookup,
    types: Types = None,
    banks: Banks = None,
    seed: str | None = None,
    bypass_coinflip: bool = False,
) -> dict[str, MatchesByBank]:
    """Hash one uploaded file and return its matches by signal type, then bank."""
    data = await _upload(request, app)
    return await run_in_threadpool(_lookup_content, app, data, types, banks)


@router.get("/m/raw_lookup")
async def raw_lookup(
    request: Request,
    app: App,
    _: Lookup,
    signal: str,
    signal_type: str,
    banks: Banks = None,
    include_distance: bool = False,
) -> dict[str, list[Any]]:
    """Matching bank content ids, `{"matches": [id, ...]}`, or with distances when `include_distance`."""
    matches = await _match_hash(request, app, signal, signal_type, banks)
    if include_distance:
        return {"matches": [_content(m) for m in matches]}
    return {"matches": [m.entry_id for m in matches]}


@router.post("/m/compare")
def compare(_: Lookup, body: Annotated[dict[str, Any], Body()]) -> dict[str, list[Any]]:
    """Compare pairs of hashes: `{"pdq": [a, b]}` -> `{"pdq": [match, {"distance": n}]}`."""
    results: dict[str, list[Any]] = {}
    for type_name, pair in body.items():
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(v, str) for v in pair):
            raise HTTPException(
                400, f"comparison hashes for {type_name!r} must be a list of exactly 2 strings"
            )
        result = get_signal_type(type_name).compare(pair[0], pair[1])
        results[type_name] = [result.match, {"distance": result.distance}]
    return results


@router.get("/m/index/status")
def index_status(app: App, _: Status, signal_type: str | None = None) -> dict[str, dict[str, Any]]:
    """Per signal type: `{"present": bool, "built_to": int, "size": int}`. `built_to` is the bank change
    sequence number the index has applied (HMA: a timestamp); `size` counts the enabled entries stored."""
    names = sorted(SIGNAL_TYPES) if signal_type is None else [get_signal_type(signal_type).name]
    seq = app.matcher.seq
    return {
        name: {
            "present": True,
            "built_to": seq if seq else -1,
            "size": app.banks.count(signal_type=name, enabled_only=True),
        }
        for name in names
    }


@router.get("/status", response_class=PlainTextResponse)
def status(_: Status) -> PlainTextResponse:
    """HMA's liveness answer; the index is loaded before the server accepts requests."""
    return PlainTextResponse("I-AM-ALIVE")


# -- curation ---------------------------------------------------------------------------------------------


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
        data = await run_in_threadpool(_fetch, app, url)
        source_id = await _metadata_content_id(request)
    elif request.headers.get("content-type", "").startswith("multipart/form-data"):
        data = await _upload(request, app)
    else:
        raise HTTPException(400, "neither `url` nor a multipart file upload was received")
    signals = (await run_in_threadpool(_extract, app, data, types))[1]
    return await run_in_threadpool(_bank_signals, app, name, signals, principal, source_id)


# -- helpers ----------------------------------------------------------------------------------------------


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


def _types(types: str | None) -> tuple[list[str], bool]:
    """The requested signal type names, validated, and whether the caller named them."""
    if types is None:
        return list(DEFAULT_TYPES), False
    names = [get_signal_type(t.strip()).name for t in types.split(",") if t.strip()]
    if not names:
        raise HTTPException(400, "empty signal type selection in `types`")
    return names, True


def _fetch(app: Tutela, url: str) -> bytes:
    return fetch_with_settings(url, app.settings)


async def _upload(request: Request, app: Tutela) -> bytes:
    """The one file of a multipart/form-data body, within `max_media_bytes`."""
    limit = app.settings.max_media_bytes
    async with request.form(max_files=1) as form:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if len(files) != 1:
            raise HTTPException(
                400, "send exactly one file as multipart/form-data (HMA names the field 'photo')"
            )
        upload = files[0]
        if upload.size is not None and upload.size > limit:
            raise MediaTooLarge("size in bytes", upload.size, limit, "max_media_bytes")
        return await upload.read()


def _extract(app: Tutela, data: bytes, types: str | None) -> tuple[Extraction, list[Signal]]:
    """Extract `data` and keep the requested signals; 422 when one the caller named is missing."""
    names, named = _types(types)
    extraction = extract(data, MediaLimits.from_settings(app.settings))
    signals = [s for s in extraction.signals if s.type in names]
    missing = [n for n in names if n not in {s.type for s in signals}]
    if not signals or (named and missing):
        raise HTTPException(422, f"could not compute {', '.join(missing)}: {extraction.error}")
    return extraction, signals


def _hex(signals: list[Signal]) -> dict[str, str]:
    return {s.type: s.value for s in signals}


def _bank_names(banks: str | None) -> list[str] | None:
    return None if banks is None else [b.strip() for b in banks.split(",") if b.strip()]


def _lookup_content(
    app: Tutela, data: bytes, types: str | None, banks: str | None
) -> dict[str, MatchesByBank]:
    extraction, signals = _extract(app, data, types)
    query = Extraction(
        signals=tuple(signals), pdq=extraction.pdq if any(s.type == PDQ.name for s in signals) else None
    )
    matches = app.matcher.match_many([query], banks=_bank_names(banks))[0]
    return {s.type: _by_bank([m for m in matches if m.signal_type == s.type]) for s in signals}


async def _match_hash(
    request: Request, app: Tutela, value: str, signal_type: str, banks: str | None
) -> list[Match]:
    kind = get_signal_type(signal_type)
    canonical = kind.validate(value)
    if kind.name == PDQ.name:
        batcher: LookupBatcher = request.app.state.lookups
        return await batcher.lookup(canonical, _bank_names(banks))
    return app.matcher.lookup(kind.name, canonical, banks=_bank_names(banks))


def _content(match: Match) -> dict[str, Any]:
    return {"bank_content_id": match.entry_id, "distance": str(match.distance)}


def _by_bank(matches: list[Match]) -> MatchesByBank:
    grouped: MatchesByBank = {}
    for match in matches:
        grouped.setdefault(match.bank, []).append(_content(match))
    return grouped


async def _metadata_content_id(request: Request) -> str | None:
    if not request.headers.get("content-type", "").startswith("application/json"):
        return None
    body = await request.json()
    metadata = body.get("metadata") if isinstance(body, dict) else None
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

"""HMA-compatible hashing and matching routes: /h/hash, /m/lookup, /m/raw_lookup, /m/compare, /m/index/status,
/status (differences from HMA: tutela.api.routes.hma_common)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from tutela.api.body_limit import own_upload_limit
from tutela.api.lookup_batch import LookupBatcher
from tutela.api.routes.hma_common import (
    App,
    Banks,
    Hashing,
    Lookup,
    Status,
    Types,
    extract_requested,
    fetch_content,
    hex_signals,
    unindexed_defaults,
    upload_bytes,
)
from tutela.app import Tutela
from tutela.matcher import Match
from tutela.signals.base import Signal
from tutela.signals.extract import Extraction
from tutela.signals.pdq.signal import PDQ
from tutela.signals.registry import SIGNAL_TYPES, get_signal_type

router = APIRouter(tags=["hma"])

MatchesByBank = dict[str, list[dict[str, Any]]]


@router.get("/h/hash")
async def hash_url(app: App, _: Hashing, url: Annotated[str, Query()], types: Types = None) -> dict[str, str]:
    """Fetch `url` (in the thread pool) and return its hashes by signal type, e.g.
    `{"pdq": "<64 hex>", "md5": "<32 hex>"}`."""
    data = await run_in_threadpool(fetch_content, app, url)
    return hex_signals((await extract_requested(app, data, types))[1])


@router.post("/h/hash")
@own_upload_limit
async def hash_upload(request: Request, app: App, _: Hashing, types: Types = None) -> dict[str, str]:
    """Hash one uploaded file (multipart/form-data, any field name)."""
    data = await upload_bytes(request, app)
    return hex_signals((await extract_requested(app, data, types))[1])


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
    event loop (a dict probe); fetching and hashing a URL run in the thread pool, and its hashes join the
    batched scan too."""
    if url:
        data = await run_in_threadpool(fetch_content, app, url)
        found = await _lookup_content(request, app, data, types, banks)
        return found if signal_type is None else found.get(signal_type, {})
    if not signal or not signal_type:
        raise HTTPException(400, "either url, or both signal and signal_type, are required")
    kind = get_signal_type(signal_type)
    return by_bank(await match_hash(request.app.state.lookups, app, kind.name, kind.validate(signal), banks))


@router.post("/m/lookup")
@own_upload_limit
async def lookup_upload(
    request: Request,
    app: App,
    _: Lookup,
    types: Types = None,
    banks: Banks = None,
    seed: str | None = None,
    bypass_coinflip: bool = False,
) -> dict[str, MatchesByBank]:
    """Hash one uploaded file (in the thread pool) and return its matches by signal type, then bank; the
    hashes join the next batched index scan (`LookupBatcher`) with concurrent lookups."""
    data = await upload_bytes(request, app)
    return await _lookup_content(request, app, data, types, banks)


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
    kind = get_signal_type(signal_type)
    matches = await match_hash(request.app.state.lookups, app, kind.name, kind.validate(signal), banks)
    return raw_matches(matches, include_distance)


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


def bank_names(banks: str | None) -> list[str] | None:
    return None if banks is None else [b.strip() for b in banks.split(",") if b.strip()]


async def _lookup_content(
    request: Request, app: Tutela, data: bytes, types: str | None, banks: str | None
) -> dict[str, MatchesByBank]:
    skip = unindexed_defaults(app, types)
    extraction, signals = await extract_requested(app, data, types, skip)
    return await match_extracted(request.app.state.lookups, extraction, signals, banks, skip)


async def match_extracted(
    batcher: LookupBatcher,
    extraction: Extraction,
    signals: list[Signal],
    banks: str | None,
    unindexed: Sequence[str] = (),
) -> dict[str, MatchesByBank]:
    """The upload lookup's answer: matches of the requested `signals` of `extraction` by signal type, then
    bank, from the next batched scan, and no matches for the `unindexed` types, which were not computed.
    Shared with the upload fast path (`tutela.api.hot_upload`)."""
    query = Extraction(
        signals=tuple(signals), pdq=extraction.pdq if any(s.type == PDQ.name for s in signals) else None
    )
    matches = await batcher.match(query, bank_names(banks))
    found = {s.type: by_bank([m for m in matches if m.signal_type == s.type]) for s in signals}
    return found | {name: {} for name in unindexed}


async def match_hash(
    batcher: LookupBatcher, app: Tutela, signal_type: str, canonical: str, banks: str | None
) -> list[Match]:
    """Matches of `canonical`, a validated hash of the registered `signal_type`: a PDQ hash joins the next
    batched scan, a digest is a dict probe. Shared with the fast path (`tutela.api.hot_lookup`)."""
    if signal_type == PDQ.name:
        return await batcher.lookup(canonical, bank_names(banks))
    return app.matcher.lookup(signal_type, canonical, banks=bank_names(banks))


def raw_matches(matches: list[Match], include_distance: bool) -> dict[str, list[Any]]:
    """The `/m/raw_lookup` answer."""
    if include_distance:
        return {"matches": [_content(m) for m in matches]}
    return {"matches": [m.entry_id for m in matches]}


def _content(match: Match) -> dict[str, Any]:
    return {"bank_content_id": match.entry_id, "distance": str(match.distance)}


def by_bank(matches: list[Match]) -> MatchesByBank:
    """Matches grouped by bank, in match order: the `/m/lookup` answer for one hash."""
    grouped: MatchesByBank = {}
    for match in matches:
        grouped.setdefault(match.bank, []).append(_content(match))
    return grouped

"""/v1/items: submit content (upload, URL or precomputed signals) with context; read items and verdicts."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile

from tutela.api.auth import check_service, require
from tutela.api.body_limit import own_upload_limit
from tutela.api.deps import get_tutela
from tutela.api.upload_form import bounded_form
from tutela.app import Tutela
from tutela.auth import Permission, Principal, Role
from tutela.effects.models import OutboxEvent, WebhookDelivery
from tutela.errors import MediaTooLarge, UnsupportedMedia
from tutela.media import MediaFormat, sniff
from tutela.net.fetch import fetch_with_settings
from tutela.ops.thread_lane import ThreadLane
from tutela.pipeline.context import ItemContext, Lane, Surface
from tutela.pipeline.errors import InvalidSubmission
from tutela.pipeline.models import Evaluation, Item
from tutela.pipeline.reads import evaluations_of, get_evaluation
from tutela.signals.base import Signal

router = APIRouter(prefix="/v1/items", tags=["items"])
App = Annotated[Tutela, Depends(get_tutela)]
MULTIPART_OVERHEAD = 64 * 1024
"""Bytes a multipart body may carry beyond `max_media_bytes` (part headers and text fields)."""
MAX_FORM_FIELDS = 20
MAX_ITEM_SIGNALS = 64
"""Precomputed signals per item: each is looked up in the index, so a body of thousands (the 1 MiB JSON cap
allows ~10,000) would buy seconds of matching CPU with one request. One piece of content has a handful."""
SUBMIT_THREADS = 40
"""Threads of the app's submission lane (`accept`): as many submissions as that run at once, the rest wait
their turn. 40 is anyio's default thread limit, which bounded them when they ran in its thread pool."""


class SignalIn(BaseModel):
    type: str = Field(max_length=64, examples=["pdq"])
    value: str = Field(max_length=4096)
    quality: int | None = Field(None, ge=0, le=100)


class ItemIn(BaseModel):
    """An item by URL or by precomputed signals (uploads use multipart/form-data with the same fields)."""

    content_id: str = Field(min_length=1, max_length=255, description="The platform's id of the content.")
    service: str | None = Field(
        None, max_length=100, description="Service name; platform keys may omit it (their own)."
    )
    account_id: str | None = Field(None, max_length=255)
    surface: Surface = Surface.PUBLIC_POST
    jurisdiction: str | None = Field(None, max_length=8, description="ISO 3166-1 alpha-2 country, e.g. DE.")
    age_band: str | None = Field(
        None, max_length=32, description="Uploader age band if known, e.g. 13_to_15."
    )
    lane: Lane = Lane.LIVE
    url: str | None = Field(
        None, max_length=8192, description="Tutela fetches it (public addresses only, size and time capped)."
    )
    signals: list[SignalIn] | None = Field(
        None,
        max_length=MAX_ITEM_SIGNALS,
        description=f"Precomputed signals instead of content (at most {MAX_ITEM_SIGNALS}).",
    )


_OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ItemIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "content_id"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "content_id": {"type": "string"},
                        "service": {"type": "string"},
                        "account_id": {"type": "string"},
                        "surface": {"type": "string", "enum": [s.value for s in Surface]},
                        "jurisdiction": {"type": "string"},
                        "age_band": {"type": "string"},
                        "lane": {"type": "string", "enum": [lane.value for lane in Lane]},
                    },
                }
            },
        },
    }
}


def evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "id": evaluation.id,
        "status": evaluation.status,
        "digest": evaluation.digest,
        "input": evaluation.input_kind,
        "signals": evaluation.signals,
        "extraction_error": evaluation.extraction_error,
        "hasher_variant": evaluation.hasher_variant,
        "matches": evaluation.matches,
        "verdict": evaluation.verdict,
        "visibility": evaluation.visibility,
        "rules_fired": evaluation.rules_fired,
        "policy_version": evaluation.policy_version,
        "bank_change_seq": evaluation.bank_seq,
        "automated": evaluation.automated,
        "skip_reason": evaluation.skip_reason,
        "attempts": evaluation.attempts,
        "error": evaluation.error,
        "created_at": evaluation.created_at.isoformat(),
        "finished_at": evaluation.finished_at.isoformat() if evaluation.finished_at else None,
    }


def item_json(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "service_id": item.service_id,
        "content_id": item.content_id,
        "account_id": item.account_id,
        "surface": item.surface,
        "jurisdiction": item.jurisdiction,
        "age_band": item.age_band,
        "created_at": item.created_at.isoformat(),
    }


async def _parse(request: Request, limit: int) -> tuple[ItemIn, bytes | None]:
    """The item fields and, for an upload, its bytes (refused past the byte limit without reading it all)."""
    content_type = request.headers.get("content-type", "")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise MediaTooLarge("request size in bytes", int(declared), limit, "max_media_bytes")
    try:
        if content_type.startswith("multipart/form-data"):
            async with bounded_form(
                request, limit, MULTIPART_OVERHEAD, max_files=1, max_fields=MAX_FORM_FIELDS
            ) as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    raise InvalidSubmission("multipart upload needs a 'file' part")
                data = await upload.read(limit + 1)
                fields = {k: v for k, v in form.items() if isinstance(v, str)}
            if len(data) > limit:
                raise MediaTooLarge("size in bytes", len(data), limit, "max_media_bytes")
            return ItemIn.model_validate(fields), data
        body = await request.body()
        try:
            payload = json.loads(body or b"null")
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, nesting too deep
            raise HTTPException(422, f"body is not JSON: {exc}") from exc
        return ItemIn.model_validate(payload), None
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from exc


def _service_id(app: Tutela, principal: Principal, name: str | None) -> int:
    if principal.role is Role.PLATFORM:
        if principal.service_id is None:
            raise HTTPException(403, "this key belongs to no service")
        if name is not None and app.services.get(name).id != principal.service_id:
            raise HTTPException(403, "a platform key submits to its own service only")
        return principal.service_id
    if name is None:
        raise HTTPException(422, "name the service ('service' field): this key is not bound to one")
    return app.services.get(name).id


@router.post("", openapi_extra=_OPENAPI_BODY, status_code=202)
@own_upload_limit
async def submit_item(
    request: Request,
    app: App,
    principal: Annotated[Principal, Depends(require(Permission.ITEMS_SUBMIT))],
    wait: Annotated[
        bool, Query(description="Answer with the verdict when ready within the deadline.")
    ] = False,
    timeout: Annotated[float | None, Query(gt=0, description="Wait deadline in seconds.")] = None,
) -> JSONResponse:
    """Accept an item (stored before the answer); 202 with its evaluation, or 200 with the verdict."""
    body, content = await _parse(request, app.settings.max_media_bytes)
    lane = request.app.state.submissions
    return await accept(app, lane, principal, body, content, wait=wait, timeout=timeout)


async def accept(
    app: Tutela,
    lane: ThreadLane,
    principal: Principal,
    body: ItemIn,
    content: bytes | None,
    *,
    wait: bool,
    timeout: float | None,
) -> JSONResponse:
    """Submit a parsed item and build the answer; the route and its fast path (`tutela.api.hot_items`) share
    it, so both answer alike. The submission, which blocks, runs on one of `lane`'s threads (the app's
    `SUBMIT_THREADS`). Raises HTTPException and TutelaError for the app's handlers."""
    service_id = _service_id(app, principal, body.service)
    sources = sum(x is not None for x in (content, body.url, body.signals))
    if sources != 1:
        raise InvalidSubmission("send exactly one of: an uploaded file, a url, or signals")
    if body.url is not None:
        content = await run_in_threadpool(fetch_with_settings, body.url, app.settings)
    if content is not None and sniff(content) is None:
        raise UnsupportedMedia(
            f"unrecognised content (first bytes {content[:8].hex()}); send images "
            f"({', '.join(f.value for f in MediaFormat)}), or precomputed signals for other files"
        )
    signals = [Signal(s.type, s.value, quality=s.quality) for s in body.signals] if body.signals else None
    context = ItemContext(
        surface=body.surface,
        jurisdiction=body.jurisdiction,
        account_id=body.account_id,
        age_band=body.age_band,
    )
    fields: dict[str, Any] = {
        "service_id": service_id,
        "content_id": body.content_id,
        "context": context,
        "content": content,
        "signals": signals,
        "lane": body.lane,
    }
    if wait:
        deadline = min(timeout or app.settings.wait_max_seconds, app.settings.wait_max_seconds)
        submission, evaluation = await lane.run(
            partial(app.pipeline.submit_and_wait, timeout=deadline, **fields)
        )
    else:
        submission = await lane.run(partial(app.pipeline.submit, **fields))
        evaluation = submission.evaluation
    payload = {
        "item": item_json(submission.item),
        "created": submission.created,
        "evaluation": evaluation_json(evaluation),
    }
    return JSONResponse(payload, status_code=200 if _finished(evaluation) else 202)


def _finished(evaluation: Evaluation) -> bool:
    return evaluation.status not in ("queued", "running")


@router.get("/{item_id}")
def get_item(
    item_id: int, app: App, principal: Annotated[Principal, Depends(require(Permission.ITEMS_READ))]
) -> dict[str, Any]:
    """The item, every evaluation (signals, matches, verdict, rules, policy version) and its actions."""
    with app.database.read() as session:
        item = session.get(Item, item_id)
        if item is None:
            raise HTTPException(404, f"no item {item_id}")
        check_service(principal, item.service_id)
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.item_id == item_id).order_by(OutboxEvent.item_seq)
        ).all()
        deliveries = session.scalars(select(WebhookDelivery).where(WebhookDelivery.item_id == item_id)).all()
    return {
        "item": item_json(item),
        "evaluations": [evaluation_json(e) for e in evaluations_of(app.database, item_id)],
        "actions": [
            {
                "event_id": event.event_id,
                "item_seq": event.item_seq,
                "type": event.event_type,
                "created_at": event.created_at.isoformat(),
                "deliveries": [
                    {"endpoint_id": d.endpoint_id, "state": d.state, "attempts": d.attempts}
                    for d in deliveries
                    if d.outbox_event_id == event.id
                ],
            }
            for event in events
        ],
    }


@router.get("/evaluations/{evaluation_id}")
def get_item_evaluation(
    evaluation_id: int, app: App, principal: Annotated[Principal, Depends(require(Permission.ITEMS_READ))]
) -> dict[str, Any]:
    """One evaluation by id."""
    evaluation = get_evaluation(app.database, evaluation_id)
    if evaluation is None:
        raise HTTPException(404, f"no evaluation {evaluation_id}")
    check_service(principal, evaluation.service_id)
    return evaluation_json(evaluation)

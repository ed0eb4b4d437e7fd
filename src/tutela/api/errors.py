"""Map Tutela's typed errors to HTTP answers: a status and a message that says what to do, never a 500.

Only TutelaError is mapped: any other exception (a plain ValueError too) is a server bug and takes the app's
unhandled-error path, a 500, so it reaches 5xx alerting instead of passing for a client error. Code that
refuses what a client sent raises a TutelaError (`InvalidInput` for a malformed value) or an HTTPException.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.responses import Response

from tutela import errors
from tutela.net import errors as net_errors
from tutela.pipeline import errors as pipeline_errors

STATUS: list[tuple[type[errors.TutelaError], int]] = [
    (pipeline_errors.QueueFull, 429),
    (pipeline_errors.InvalidSubmission, 422),
    (pipeline_errors.UnknownEvaluation, 404),
    (net_errors.FetchTooLarge, 413),
    (net_errors.TargetRefused, 422),
    (net_errors.NetError, 422),
    (errors.MediaTooLarge, 413),
    (errors.UnsupportedMedia, 415),
    (errors.DecodeTimeout, 422),
    (errors.CorruptMedia, 422),
    (errors.InvalidInput, 422),
    (errors.InvalidSignal, 422),
    (errors.UnknownSignalType, 422),
    (errors.ImportFormatError, 422),
    (errors.NotFound, 404),
    (errors.AlreadyExists, 409),
    (errors.ExportForbidden, 403),
    (errors.BankError, 400),
]
"""First match wins, so subclasses come before their parents."""


def status_of(error: errors.TutelaError) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return int(getattr(error, "http_status", 400))


def install(app: FastAPI) -> None:
    """Register the handler that turns any TutelaError into JSON `{"detail": ..., "error": <type>}`."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.TutelaError)
        headers = {}
        retry_after = getattr(exc, "retry_after_seconds", None)
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, int(retry_after)))
        return JSONResponse(
            {"detail": str(exc), "error": type(exc).__name__}, status_code=status_of(exc), headers=headers
        )

    app.add_exception_handler(errors.TutelaError, handle)
    app.add_exception_handler(UnicodeEncodeError, _not_unicode)
    app.add_exception_handler(RequestValidationError, _invalid_request)


async def _not_unicode(request: Request, exc: Exception) -> JSONResponse:
    """JSON text may carry a lone surrogate escape ("\\ud800"), which decodes to a str no UTF-8 encoder takes:
    storing it fails with UnicodeEncodeError. That is the caller's malformed text, not a server fault."""
    assert isinstance(exc, UnicodeEncodeError)
    detail = f"text must be valid Unicode: {exc.reason} at character {exc.start} of a value"
    return JSONResponse({"detail": detail, "error": "InvalidInput"}, status_code=422)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 for a request that does not validate, with non-ASCII escaped: its body repeats the
    input, and FastAPI's own answer fails (a 500) when that input holds a lone surrogate."""
    assert isinstance(exc, RequestValidationError)
    body = json.dumps(
        {"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True, allow_nan=False, separators=(",", ":")
    )
    return Response(body, status_code=422, media_type="application/json")

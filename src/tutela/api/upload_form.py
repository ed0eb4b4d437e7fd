"""Multipart forms read within a byte limit, with every temporary file closed whatever the body.

Starlette's form parser spools a file part past 1 MB to a temporary file and bounds only text fields, so a
body without a declared length (or one the route leaves to the parser) was written to disk in full before a
route could refuse it. And a body that ends without its closing boundary parses without an error while the
file it was writing is in no field, so `FormData.close` never closed it: only the garbage collector did.

`bounded_form` feeds the parser through a stream that stops a body past the limit and refuses one that ends
before its closing boundary. Both errors are raised inside the parser's read loop, which closes every file
it opened before passing the error on; the files of a parsed form are closed when the block exits.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager

from fastapi import HTTPException, Request
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser

from tutela.errors import MediaTooLarge


@asynccontextmanager
async def bounded_form(
    request: Request,
    limit: int,
    overhead: int,
    *,
    max_files: int,
    max_fields: int = 1000,
    setting: str = "max_media_bytes",
) -> AsyncIterator[FormData]:
    """The multipart form of `request`, read while the body is within `limit` (the value of `setting`, named
    in the 413) plus `overhead` bytes of boundaries, part headers and text fields; 413 past it, 400 for a
    malformed body or one cut short. Another content type gives an empty form, as `Request.form` does."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data":
        form = FormData()
    elif not boundary:
        raise HTTPException(400, "Missing boundary in multipart.")
    else:
        async with aclosing(_bounded(request.stream(), boundary, limit, overhead, setting)) as stream:
            parser = MultiPartParser(request.headers, stream, max_files=max_files, max_fields=max_fields)
            try:
                form = await parser.parse()
            except MultiPartException as exc:
                raise HTTPException(400, exc.message) from exc
    try:
        yield form
    finally:
        await form.close()


async def _bounded(
    chunks: AsyncIterator[bytes], boundary: bytes, limit: int, overhead: int, setting: str
) -> AsyncGenerator[bytes, None]:
    """`chunks`, raising past `limit` + `overhead` bytes or at the end when no closing boundary was seen."""
    closing = b"--" + boundary + b"--"
    received = 0
    closed = False
    tail = b""  # the last bytes read, so a closing boundary split across chunks is found
    async for chunk in chunks:
        received += len(chunk)
        if received > limit + overhead:
            raise MediaTooLarge("request size in bytes (so far)", received, limit, setting)
        if not closed:
            closed = closing in tail + chunk[: len(closing)] or closing in chunk
            tail = (tail + chunk[-len(closing) :])[-len(closing) :]
        yield chunk
    if not closed:
        raise HTTPException(400, "the multipart body ends before its closing boundary")

"""Shared parts of the HMA-compatible routes (hma_matching, hma_curation): permissions, parameters, and
reading, fetching and hashing content the way HMA's hashing endpoints do.

An HMA client switches to Tutela by changing its base URL (and sending an API key, or calling from a network
listed in `hma_open_networks`). What differs from HMA, and why:
- Banks are on or off, so `enabled_ratio` must be 0.0 or 1.0; `seed` and `bypass_coinflip` are accepted and
  have no effect (a disabled bank is out of the index, so `bypass_coinflip` cannot bring it back).
- A bank content id is a Tutela entry id, and Tutela keeps one entry per signal: adding content with two
  signals creates two entries and answers with the first id. Adding a signal the bank already holds answers
  with the existing entry instead of a duplicate.
- Hashing yields `pdq` and `md5` unless `types` asks for others (`sha1`, `sha256`); any single file field
  is accepted as the upload (HMA names it after the content type, e.g. `photo`). A lookup without `types`
  skips MD5 while no bank holds an MD5 entry (`unindexed_defaults`); its answer still lists `md5: {}`.
- Creating or renaming a bank here follows HMA's naming rule (UPPER_WITH_UNDERSCORE); banks made through
  /v1 keep their own names and are listed as they are. An existing name answers 409, not HMA's 403.
- `raw_lookup` sees enabled entries only, like `lookup`; errors are Tutela's `{"detail": ...}` bodies, with
  HMA's 400 for bad requests and Tutela's 422 for values that do not validate.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile

from tutela.api.auth import require
from tutela.api.deps import get_tutela
from tutela.api.upload_form import bounded_form
from tutela.app import Tutela
from tutela.auth import Permission, Principal
from tutela.errors import MediaTooLarge
from tutela.net import fetch_with_settings
from tutela.pipeline.errors import DecoderError
from tutela.signals.base import Signal
from tutela.signals.extract import Extraction
from tutela.signals.pdq.signal import PDQ
from tutela.signals.registry import get_signal_type

App = Annotated[Tutela, Depends(get_tutela)]
Hashing = Annotated[Principal, Depends(require(Permission.HASHES_COMPUTE, hma_open=True))]
Lookup = Annotated[Principal, Depends(require(Permission.MATCHES_LOOKUP, hma_open=True))]
Status = Annotated[Principal, Depends(require(Permission.STATUS_READ, hma_open=True))]
BanksRead = Annotated[Principal, Depends(require(Permission.BANKS_READ, hma_open=True))]
BanksWrite = Annotated[Principal, Depends(require(Permission.BANKS_WRITE, hma_open=True))]
EntriesWrite = Annotated[Principal, Depends(require(Permission.ENTRIES_WRITE, hma_open=True))]
Types = Annotated[str | None, Query(description="Comma-separated signal types; default pdq,md5.")]
Banks = Annotated[str | None, Query(description="Comma-separated bank names to search; default all.")]

_HEADER_NAME = re.compile(rb"[A-Za-z0-9-]+")
_PART_OVERHEAD = 64 * 1024
"""Bytes of boundaries and part headers allowed around a file before a body is left to the form parser."""
DEFAULT_TYPES = ("pdq", "md5")
"""HMA hashes photos with PDQ; MD5 gives content that does not decode (video) a signal, as video_md5 does."""


def requested_types(types: str | None) -> tuple[list[str], bool]:
    """The requested signal type names, validated, and whether the caller named them."""
    if types is None:
        return list(DEFAULT_TYPES), False
    names = [get_signal_type(t.strip()).name for t in types.split(",") if t.strip()]
    if not names:
        raise HTTPException(400, "empty signal type selection in `types`")
    return names, True


def unindexed_defaults(app: Tutela, types: str | None) -> tuple[str, ...]:
    """The default digest types (no `types` given) that no bank entry is of: a lookup answers `{}` for
    them without computing them. MD5 cost ~0.25 ms of the ~6 ms of CPU an upload lookup takes."""
    if types is not None:
        return ()
    return tuple(name for name in DEFAULT_TYPES if name != PDQ.name and not app.matcher.exact.holds(name))


def fetch_content(app: Tutela, url: str) -> bytes:
    return fetch_with_settings(url, app.settings)


async def upload_bytes(request: Request, app: Tutela) -> bytes:
    """The one file of a multipart/form-data body, within `max_media_bytes`.

    A body of one file part and nothing else, with a declared length within the limit, is cut straight out
    of the body (~0.2 ms of CPU less than the general parser for 150 KB); any other body, including every
    malformed one, goes through Starlette's form parser (which reads the cached body), so errors are its own.
    """
    limit = app.settings.max_media_bytes
    data = await _single_file(request, limit)
    if data is not None:
        if len(data) > limit:
            raise MediaTooLarge("size in bytes", len(data), limit, "max_media_bytes")
        return data
    async with bounded_form(request, limit, _PART_OVERHEAD, max_files=1) as form:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if len(files) != 1:
            raise HTTPException(
                400, "send exactly one file as multipart/form-data (HMA names the field 'photo')"
            )
        upload = files[0]
        if upload.size is not None and upload.size > limit:
            raise MediaTooLarge("size in bytes", upload.size, limit, "max_media_bytes")
        return await upload.read()


async def _single_file(request: Request, limit: int) -> bytes | None:
    """The file of a body that is one multipart file part and nothing else; None: the form parser decides."""
    headers = request.headers
    boundary = lean_boundary(headers.get("content-type", ""), headers.get("content-length", ""), limit)
    return None if boundary is None else cut_single_file(await request.body(), boundary)


def lean_boundary(content_type: str, length: str, limit: int) -> bytes | None:
    """The multipart boundary of a body that may be cut directly (`cut_single_file`): form data with a
    boundary and a declared length within `limit` plus part overhead; None: leave the body to the parser.
    Shared with the upload fast path (`tutela.api.hot_upload`), which decides from headers alone."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary or not length.isdigit():
        return None
    return None if int(length) > limit + _PART_OVERHEAD else boundary


def cut_single_file(body: bytes, boundary: bytes) -> bytes | None:
    """The file of `body` when it is one multipart file part and nothing else, else None."""
    delimiter = b"--" + boundary
    start = len(delimiter) + 2
    if not body.startswith(delimiter + b"\r\n"):
        return None
    head_end = body.find(b"\r\n\r\n", start)
    if head_end < 0 or not _is_file_part(body[start:head_end]):
        return None
    end = body.find(b"\r\n" + delimiter, head_end + 4)
    if end < 0 or body[end + 2 + len(delimiter) :] not in (b"--", b"--\r\n"):
        return None
    return body[head_end + 4 : end]


def _is_file_part(head: bytes) -> bool:
    """Whether part headers name a file as the form parser reads them (Content-Disposition with a name and
    a filename, given once)."""
    dispositions = []
    for line in head.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon or not _HEADER_NAME.fullmatch(name) or b"\r" in value or b"\n" in value:
            return False
        if name.lower() == b"content-disposition":
            dispositions.append(value.strip())
    if len(dispositions) != 1:
        return False
    _, options = parse_options_header(dispositions[0])
    return b"name" in options and b"filename" in options


async def extract_requested(
    app: Tutela, data: bytes, types: str | None, skip: Collection[str] = ()
) -> tuple[Extraction, list[Signal]]:
    """Extract `data` in a decoder process (`DecoderPool.extract_async`, awaited on the event loop) and keep
    the requested signals but those in `skip` (`unindexed_defaults`, answered as empty); 422 when the
    decoder failed, or when a signal the caller named is missing or none at all was wanted and computed."""
    names, named = requested_types(types)
    wanted = [name for name in names if name not in skip]
    pool = app.pipeline.pool
    try:
        if pool is None:  # not started yet (a process without background work): start it in a thread
            pool = await asyncio.get_running_loop().run_in_executor(None, app.pipeline.decoders)
        extraction = await pool.extract_async(data, wanted)
    except DecoderError as exc:
        raise HTTPException(422, f"could not decode the content: {exc}") from None
    return extraction, _requested(extraction, wanted, named, answered=len(wanted) < len(names))


def _requested(extraction: Extraction, names: list[str], named: bool, *, answered: bool) -> list[Signal]:
    signals = [s for s in extraction.signals if s.type in names]
    missing = [n for n in names if n not in {s.type for s in signals}]
    if (not signals and not answered) or (named and missing):
        raise HTTPException(422, f"could not compute {', '.join(missing)}: {extraction.error}")
    return signals


def hex_signals(signals: list[Signal]) -> dict[str, str]:
    return {s.type: s.value for s in signals}

"""/v1/banks: banks, their entries, import and export (same operations as `tutela bank`)."""

from __future__ import annotations

import io
import itertools
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from starlette.datastructures import UploadFile

from tutela.api.auth import require
from tutela.api.body_limit import own_upload_limit
from tutela.api.deps import get_tutela
from tutela.api.schemas import (
    BankIn,
    BankOut,
    BankPatch,
    EntryIn,
    EntryOut,
    EntryPatch,
    ImportOut,
    LineErrorOut,
)
from tutela.api.upload_form import bounded_form
from tutela.app import Tutela
from tutela.auth import Permission, Principal
from tutela.banks import BankFileFormat, ImportReport, export_bank, import_entries, read_records
from tutela.errors import MediaTooLarge, NotFound
from tutela.signals.base import Signal

router = APIRouter(prefix="/v1/banks", tags=["banks"])
App = Annotated[Tutela, Depends(get_tutela)]
MAX_PAGE = 1000
IMPORT_OVERHEAD = 64 * 1024
"""Bytes an import body may carry beyond `max_import_bytes` (boundary and part headers)."""
_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.get("", response_model=list[BankOut])
def list_banks(app: App, _: Annotated[Principal, Depends(require(Permission.BANKS_READ))]) -> list[BankOut]:
    return [BankOut.of(bank, app.banks.count(bank.name)) for bank in app.banks.list_banks()]


@router.post("", response_model=BankOut, status_code=201)
def create_bank(
    body: BankIn, app: App, _: Annotated[Principal, Depends(require(Permission.BANKS_WRITE))]
) -> BankOut:
    bank = app.banks.create_bank(
        body.name,
        body.category,
        description=body.description,
        source=body.source,
        licence=body.licence,
        exportable=body.exportable,
        enabled=body.enabled,
        pdq_threshold=body.pdq_threshold,
    )
    return BankOut.of(bank, 0)


@router.get("/{name}", response_model=BankOut)
def get_bank(
    name: str, app: App, _: Annotated[Principal, Depends(require(Permission.BANKS_READ))]
) -> BankOut:
    return BankOut.of(app.banks.get_bank(name), app.banks.count(name))


@router.patch("/{name}", response_model=BankOut)
def update_bank(
    name: str, body: BankPatch, app: App, _: Annotated[Principal, Depends(require(Permission.BANKS_WRITE))]
) -> BankOut:
    bank = app.banks.update_bank(name, **body.model_dump(exclude_unset=True))
    return BankOut.of(bank, app.banks.count(name))


@router.delete("/{name}", status_code=204)
def delete_bank(
    name: str, app: App, _: Annotated[Principal, Depends(require(Permission.BANKS_WRITE))]
) -> None:
    app.banks.delete_bank(name)


@router.get("/{name}/entries", response_model=list[EntryOut])
def list_entries(
    name: str,
    app: App,
    _: Annotated[Principal, Depends(require(Permission.BANKS_READ))],
    after_id: Annotated[int, Query(ge=0, description="Page after this entry id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[EntryOut]:
    entries = itertools.islice(app.banks.iter_entries(name, after_id=after_id), limit)
    return [EntryOut.of(name, entry) for entry in entries]


@router.post("/{name}/entries", response_model=EntryOut, status_code=201)
def add_entry(
    name: str,
    body: EntryIn,
    app: App,
    principal: Annotated[Principal, Depends(require(Permission.ENTRIES_WRITE))],
) -> EntryOut:
    entry = app.banks.add_entry(
        name,
        Signal(body.signal_type, body.value, quality=body.quality),
        source_id=body.source_id,
        note=body.note,
        enabled=body.enabled,
        added_by=f"key:{principal.key_prefix}",
    )
    return EntryOut.of(name, entry)


def _entry_of_bank(app: Tutela, name: str, entry_id: int) -> None:
    if app.banks.get_entry(entry_id).bank_id != app.banks.get_bank(name).id:
        raise NotFound(f"bank {name!r} has no entry {entry_id}")


@router.patch("/{name}/entries/{entry_id}", response_model=EntryOut)
def set_entry(
    name: str,
    entry_id: int,
    body: EntryPatch,
    app: App,
    _: Annotated[Principal, Depends(require(Permission.ENTRIES_WRITE))],
) -> EntryOut:
    _entry_of_bank(app, name, entry_id)
    return EntryOut.of(name, app.banks.set_entry_enabled(entry_id, body.enabled))


@router.delete("/{name}/entries/{entry_id}", status_code=204)
def delete_entry(
    name: str, entry_id: int, app: App, _: Annotated[Principal, Depends(require(Permission.ENTRIES_WRITE))]
) -> None:
    _entry_of_bank(app, name, entry_id)
    app.banks.delete_entry(entry_id)


@router.post("/{name}/import", response_model=ImportOut, openapi_extra=_IMPORT_BODY)
@own_upload_limit
async def import_list(
    name: str,
    request: Request,
    app: App,
    principal: Annotated[Principal, Depends(require(Permission.ENTRIES_WRITE))],
    file_format: Annotated[BankFileFormat, Query(alias="format")] = BankFileFormat.PLAIN,
    signal_type: Annotated[str | None, Query(description="For lines that name no type.")] = None,
) -> ImportOut:
    """Import a hash list (multipart field `file`, at most `max_import_bytes`); bad lines are reported, the
    rest published at once.

    The body is read here through `bounded_form` rather than as an `UploadFile` parameter, which FastAPI
    would spool to disk in full before the key or the bank was checked: a list past the limit is refused
    with 413 after at most the limit plus part overhead was read, and its spooled file is closed.
    """
    await run_in_threadpool(app.banks.get_bank, name)
    limit = app.settings.max_import_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + IMPORT_OVERHEAD:
        raise MediaTooLarge("request size in bytes", int(declared), limit, "max_import_bytes")
    async with bounded_form(request, limit, IMPORT_OVERHEAD, max_files=1, setting="max_import_bytes") as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "send the hash list as the multipart/form-data file part 'file'")
        if upload.size is not None and upload.size > limit:
            raise MediaTooLarge("size in bytes", upload.size, limit, "max_import_bytes")
        added_by = f"key:{principal.key_prefix}"
        report = await run_in_threadpool(_import, app, name, upload.file, file_format, signal_type, added_by)
    return ImportOut(
        bank=name,
        added=report.added,
        duplicates=report.duplicates,
        errors=report.error_count,
        first_errors=[LineErrorOut(line=e.line_number, message=e.message) for e in report.errors],
    )


def _import(
    app: Tutela,
    name: str,
    file: BinaryIO,
    file_format: BankFileFormat,
    signal_type: str | None,
    added_by: str,
) -> ImportReport:
    """The import itself, run in a worker thread: parsing the list and publishing it block on the spooled file
    and the database."""
    text = io.TextIOWrapper(file, encoding="utf-8", errors="replace", newline="")
    records = read_records(file_format, text, signal_type)
    return import_entries(app.banks, name, records, added_by=added_by)


@router.get("/{name}/export", response_class=PlainTextResponse)
def export_list(
    name: str,
    app: App,
    _: Annotated[Principal, Depends(require(Permission.BANKS_EXPORT))],
    file_format: Annotated[BankFileFormat, Query(alias="format")] = BankFileFormat.JSONL,
    signal_type: Annotated[str | None, Query()] = None,
) -> PlainTextResponse:
    """The bank as a file; 403 when the bank is not exportable (its licence forbids it)."""
    out = io.StringIO()
    export_bank(app.banks, name, file_format, out, signal_type=signal_type)
    return PlainTextResponse(out.getvalue())

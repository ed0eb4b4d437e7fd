"""Cut a plain multipart/form-data body into its text fields and files, or refuse it.

Why: Starlette's form parser (python-multipart, callbacks per chunk, files spooled to temporary files) costs
~0.3-0.5 ms of CPU for an upload of 150 kB with a few fields, most of a fast path's budget. The bodies
platforms send are plain: `form-data` parts with a name, maybe a filename and a Content-Type, no charset, no
other part headers. This parser reads only those, by slicing, and answers None for anything else (a
malformed body, an unusual header or encoding, a repeated name), so the caller hands the body to
Starlette's parser, whose answer and errors stay the API's. It never decides differently from Starlette on a
body it accepts: names and filenames are read with the same `parse_options_header`, text is strict UTF-8.
"""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.multipart import parse_options_header

_PART_HEADERS = frozenset({b"content-disposition", b"content-type"})


@dataclass(frozen=True, slots=True)
class SimpleForm:
    """The text fields and the files (field name -> (filename, bytes)) of a plain form."""

    fields: dict[str, str]
    files: dict[str, tuple[str, bytes]]


def form_boundary(content_type: str) -> bytes | None:
    """The boundary of a `multipart/form-data` Content-Type with no other parameter, else None."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary or set(options) != {b"boundary"}:
        return None
    return boundary


def parse_simple_form(body: bytes, boundary: bytes, *, max_fields: int, max_files: int) -> SimpleForm | None:
    """The fields and files of `body`, or None when Starlette's parser must decide (see the module)."""
    delimiter = b"--" + boundary
    if not body.startswith(delimiter + b"\r\n"):
        return None
    separator = b"\r\n" + delimiter
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    position = len(delimiter) + 2
    while True:
        head_end = body.find(b"\r\n\r\n", position)
        end = body.find(separator, head_end + 4) if head_end >= 0 else -1
        if end < 0:
            return None
        part = _part_names(body[position:head_end])
        if part is None:
            return None
        name, filename = part
        if name in fields or name in files:
            return None
        content = body[head_end + 4 : end]
        if filename is None:
            try:
                fields[name] = content.decode("utf-8")
            except UnicodeDecodeError:
                return None
        else:
            files[name] = (filename, content)
        if len(fields) > max_fields or len(files) > max_files:
            return None
        after = end + len(separator)
        if body[after:] in (b"--", b"--\r\n"):
            return SimpleForm(fields, files)
        if body[after : after + 2] != b"\r\n":
            return None
        position = after + 2


def _part_names(head: bytes) -> tuple[str, str | None] | None:
    """(field name, filename or None) from a part's headers, or None for anything unusual."""
    disposition = None
    for line in head.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        key = name.lower()
        if not colon or key not in _PART_HEADERS or name != name.strip():
            return None
        if key == b"content-disposition":
            if disposition is not None:
                return None
            disposition = value.strip()
    if disposition is None:
        return None
    kind, options = parse_options_header(disposition)
    field = options.get(b"name")
    if kind != b"form-data" or not field or not set(options) <= {b"name", b"filename"}:
        return None
    filename = options.get(b"filename")
    try:
        return field.decode("utf-8"), None if filename is None else filename.decode("utf-8")
    except UnicodeDecodeError:
        return None

"""HMA uploads: a body of one file part is cut out directly, and answers exactly as Starlette's form parser
would have; every other body goes to that parser."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from starlette.requests import Request

from tests.api_support import ApiHarness, harness
from tutela.api.routes.hma_common import _single_file
from tutela.demo.images import jpeg_bytes, picture
from tutela.settings import Settings

JPEG = jpeg_bytes(picture(9, (320, 240)))
B = b"tutela-test-boundary"


def _part(headers: bytes, data: bytes) -> bytes:
    return b"--" + B + b"\r\n" + headers + b"\r\n\r\n" + data + b"\r\n"


FILE = b'Content-Disposition: form-data; name="photo"; filename="p.jpg"\r\nContent-Type: image/jpeg'
END = b"--" + B + b"--\r\n"
LEAN = {
    "one file": _part(FILE, JPEG) + END,
    "lower-case header, no final CRLF": _part(b'content-disposition: form-data; name="f"; filename=x', JPEG)
    + END[:-2],
    "boundary-like bytes in the data": _part(FILE, JPEG + b"\r\n--" + B[:-1] + b"\r\n" + JPEG) + END,
    "not an image": _part(FILE, b"plain text") + END,
}
PARSER = {
    "file and field": _part(b'Content-Disposition: form-data; name="x"', b"1") + _part(FILE, JPEG) + END,
    "two files": _part(FILE, JPEG) + _part(FILE, JPEG) + END,
    "no filename": _part(b'Content-Disposition: form-data; name="photo"', JPEG) + END,
    "no name": _part(b'Content-Disposition: form-data; filename="p.jpg"', JPEG) + END,
    "bad header name": _part(FILE + b"\r\nX Bad: 1", JPEG) + END,
    "two dispositions": _part(FILE + b'\r\nContent-Disposition: form-data; name="y"', JPEG) + END,
    "preamble": b"hello\r\n" + _part(FILE, JPEG) + END,
    "no closing delimiter": _part(FILE, JPEG),
    "epilogue": _part(FILE, JPEG) + END + b"trailing words",
    "LF line ends": (_part(FILE, JPEG) + END).replace(b"\r\n", b"\n"),
}


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiHarness]:
    with harness(settings) as h:
        yield h


def _cut(body: bytes, content_type: bytes = b"multipart/form-data; boundary=" + B) -> bytes | None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request({"type": "http", "method": "POST", "headers": headers}, receive)
    return asyncio.run(_single_file(request, 10_000_000))


def test_only_single_file_bodies_are_cut_directly() -> None:
    assert _cut(LEAN["one file"]) == JPEG
    assert _cut(LEAN["boundary-like bytes in the data"]) == JPEG + b"\r\n--" + B[:-1] + b"\r\n" + JPEG
    assert [name for name, body in LEAN.items() if _cut(body) is None] == []
    assert [name for name, body in PARSER.items() if _cut(body) is not None] == []
    assert _cut(LEAN["one file"], b"multipart/mixed; boundary=" + B) is None
    assert _cut(LEAN["one file"], b"multipart/form-data") is None


def test_cut_bodies_answer_as_the_form_parser_does(api: ApiHarness) -> None:
    """The same body sent with a length (may be cut directly) and chunked (always parsed) answers alike."""
    headers = {**api.headers(), "Content-Type": f"multipart/form-data; boundary={B.decode()}"}
    for name, body in {**LEAN, **PARSER}.items():
        if name == "no closing delimiter":  # Starlette answers 400 but leaks its spooled file (a warning)
            continue
        for path in ("/h/hash", "/m/lookup"):
            sized = api.client.post(path, content=body, headers=headers)
            chunked = api.client.post(path, content=iter([body]), headers=headers)
            assert (sized.status_code, sized.content) == (chunked.status_code, chunked.content), (name, path)
    assert api.client.post("/h/hash", content=LEAN["one file"], headers=headers).status_code == 200

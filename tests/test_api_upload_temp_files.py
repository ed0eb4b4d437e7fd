"""Multipart uploads leave no temporary file open, whatever the body (`tutela.api.upload_form`).

Starlette spools a file part past 1 MB to a temporary file. Every upload route is sent a file that is
spooled, in a whole body, one cut short by a client that goes away, one without its closing boundary, one a
handler refuses after parsing, and a chunked one past the limit; afterwards the server (a thread of this
process) holds no temporary file and none was left for the garbage collector to close.
"""

from __future__ import annotations

import random
import socket
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator

import pytest

from tests.api_support import ApiHarness, harness, open_temp_files
from tutela.banks import BankCategory
from tutela.settings import Settings

LIMIT = 2 * 1024 * 1024  # max_media_bytes of these tests
DATA = random.Random(7).randbytes(1_500_000)  # spooled to disk by the form parser, within the limit
PATHS = ("/v1/items", "/m/lookup", "/h/hash", "/c/bank/UPLOADS/content")
B = "tutela-temp-boundary"
HEAD = f'--{B}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n\r\n'.encode()
FIELDS = (
    f'--{B}\r\nContent-Disposition: form-data; name="content_id"\r\n\r\nc-1\r\n'
    f'--{B}\r\nContent-Disposition: form-data; name="service"\r\n\r\ndemo-service\r\n'
).encode()
END = f"\r\n--{B}--\r\n".encode()


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiHarness]:
    with harness(settings.model_copy(update={"max_media_bytes": LIMIT})) as api:
        api.tutela.banks.create_bank("UPLOADS", BankCategory.OTHER)
        yield api


@pytest.fixture
def left_over(api: ApiHarness) -> Iterator[Callable[[], None]]:
    """A check that the server holds no temporary file it did not hold before (pytest's output capture
    holds some) and left none for the garbage collector to close (a ResourceWarning of any thread)."""
    before = open_temp_files()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)

        def check() -> None:
            deadline = time.monotonic() + 5
            while open_temp_files() - before and time.monotonic() < deadline:
                time.sleep(0.05)
            assert open_temp_files() - before == set()
            assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []

        yield check


def _raw(api: ApiHarness, path: str, body: bytes, length: int) -> bytes:
    """Send `body` under a declared `length`, then stop sending; the server's answer, if any."""
    url = urllib.parse.urlsplit(api.base_url)
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: {api.headers()['Authorization']}\r\n"
            f"Content-Type: multipart/form-data; boundary={B}\r\nContent-Length: {length}\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def _post(api: ApiHarness, path: str, body: bytes, *, chunked: bool = False) -> tuple[int, str]:
    headers = {**api.headers(), "Content-Type": f"multipart/form-data; boundary={B}"}
    content = iter([body[i : i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    response = api.client.post(path, content=content, headers=headers)
    return response.status_code, response.text


@pytest.mark.parametrize("path", PATHS)
def test_whole_upload_leaves_no_temp_file(api: ApiHarness, path: str, left_over: Callable[[], None]) -> None:
    assert _post(api, path, FIELDS + HEAD + DATA + END)[0] < 500
    assert _post(api, path, FIELDS + HEAD + DATA + END, chunked=True)[0] < 500
    left_over()


@pytest.mark.parametrize("path", PATHS)
def test_client_gone_mid_upload_leaves_no_temp_file(
    api: ApiHarness, path: str, left_over: Callable[[], None]
) -> None:
    body = FIELDS + HEAD + DATA + END
    assert _raw(api, path, body[:1_200_000], len(body)) == b""  # cut inside the spooled file
    assert _raw(api, path, body, len(body) + 10_000) == b""  # all sent, less than declared
    left_over()


@pytest.mark.parametrize("path", PATHS)
def test_body_without_closing_boundary_is_refused(
    api: ApiHarness, path: str, left_over: Callable[[], None]
) -> None:
    """Starlette's parser takes such a body without an error, and the file it was writing is in no field, so
    closing the form does not close it."""
    answers = [_post(api, path, FIELDS + HEAD + DATA, chunked=chunked) for chunked in (False, True)]
    left_over()
    for status, text in answers:
        assert (status, "closing boundary" in text) == (400, True), text


@pytest.mark.parametrize("path", PATHS)
def test_refused_after_parsing_leaves_no_temp_file(
    api: ApiHarness, path: str, left_over: Callable[[], None]
) -> None:
    """A file just past the limit is parsed (it fits the body's allowance for headers), then refused."""
    status, text = _post(api, path, FIELDS + HEAD + DATA + DATA[: LIMIT - len(DATA) + 1] + END, chunked=True)
    assert (status, "size in bytes" in text) == (413, True), text
    if path == "/v1/items":  # no content_id: refused by validation once the form is read
        assert _post(api, path, HEAD + DATA + END, chunked=True)[0] == 422
    left_over()


@pytest.mark.parametrize("path", PATHS)
def test_chunked_body_past_the_limit_is_stopped(
    api: ApiHarness, path: str, left_over: Callable[[], None]
) -> None:
    """A body without a declared length is read no further than the limit plus part overhead."""
    status, text = _post(api, path, FIELDS + HEAD + DATA * 3 + END, chunked=True)
    assert (status, "request size in bytes (so far)" in text) == (413, True), text
    left_over()

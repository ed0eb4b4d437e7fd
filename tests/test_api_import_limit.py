"""`POST /v1/banks/{name}/import` reads its hash list within `max_import_bytes` (`tutela.api.upload_form`).

Hash lists are far larger than media, so the import has its own limit. A list within it still lands in the
bank; a body past it is refused with 413 naming the setting, whether its length is declared (refused before
any of it is read) or not (chunked: stopped at the limit plus part overhead), and the bank is unchanged. A
limit above Starlette's 1 MB spool threshold makes the form parser write the list to disk, so the tests also
check that no spooled file is left open.
"""

from __future__ import annotations

import os
import random
import socket
import tempfile
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.api_support import ApiHarness, harness
from tutela.auth import Role
from tutela.banks import BankCategory
from tutela.settings import Settings

LIMIT = 2 * 1024 * 1024  # max_import_bytes of these tests; past the 1 MB spool threshold
LINE = 65  # a PDQ hash in hex and its newline
B = "tutela-import-boundary"
HEAD = f'--{B}\r\nContent-Disposition: form-data; name="file"; filename="list.txt"\r\n\r\n'.encode()
END = f"\r\n--{B}--\r\n".encode()
PATH = "/v1/banks/LIST/import?format=plain&signal_type=pdq"


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiHarness]:
    with harness(settings.model_copy(update={"max_import_bytes": LIMIT})) as api:
        api.tutela.banks.create_bank("LIST", BankCategory.OTHER)
        yield api


def _hashes(count: int, seed: int) -> bytes:
    """`count` distinct benign PDQ hashes (random bits), one a line."""
    rng = random.Random(seed)
    return b"".join(rng.randbytes(32).hex().encode() + b"\n" for _ in range(count))


def _post(api: ApiHarness, listing: bytes, *, chunked: bool = False) -> tuple[int, str]:
    body = HEAD + listing + END
    headers = {**api.headers(), "Content-Type": f"multipart/form-data; boundary={B}"}
    content = iter([body[i : i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    response = api.client.post(PATH, content=content, headers=headers)
    return response.status_code, response.text


def _spooled() -> set[str]:
    """The unlinked temporary files this process (the server is a thread of it) holds open."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(tempfile.gettempdir()) and target.endswith("(deleted)"):
            found.add(target)
    return found


def _none_left(before: set[str]) -> None:
    deadline = time.monotonic() + 5
    while _spooled() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _spooled() - before == set()


def _declare_only(api: ApiHarness, length: int, role: Role | None) -> str:
    """The status line answered to headers declaring `length` bytes, none of which is sent."""
    url = urllib.parse.urlsplit(api.base_url)
    auth = "" if role is None else f"Authorization: {api.headers(role)['Authorization']}\r\n"
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10) as sock:
        sock.sendall(
            f"POST {PATH} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{auth}"
            f"Content-Type: multipart/form-data; boundary={B}\r\nContent-Length: {length}\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    return answer.partition(b"\r\n")[0].decode()


@pytest.mark.parametrize("chunked", [False, True])
def test_list_within_the_limit_lands_in_the_bank(api: ApiHarness, chunked: bool) -> None:
    before = _spooled()
    count = (LIMIT - 1024) // LINE  # spooled to disk, within the limit
    status, text = _post(api, _hashes(count, seed=1), chunked=chunked)
    assert status == 200, text
    assert api.tutela.banks.count("LIST") == count
    _none_left(before)


@pytest.mark.parametrize("chunked", [False, True])
def test_list_past_the_limit_is_refused_and_the_bank_unchanged(api: ApiHarness, chunked: bool) -> None:
    assert _post(api, _hashes(10, seed=2))[0] == 200
    before = _spooled()
    status, text = _post(api, _hashes(2 * LIMIT // LINE, seed=3), chunked=chunked)
    assert status == 413, text
    assert "TUTELA_MAX_IMPORT_BYTES" in text
    assert ("request size in bytes (so far)" in text) is chunked  # chunked: stopped while reading
    assert api.tutela.banks.count("LIST") == 10
    _none_left(before)


def test_list_just_past_the_limit_is_refused_after_parsing(api: ApiHarness) -> None:
    """A file a line past the limit fits the body's allowance for part headers: it is parsed, then refused."""
    before = _spooled()
    status, text = _post(api, _hashes(LIMIT // LINE + 1, seed=4), chunked=True)
    assert (status, "size in bytes" in text, "TUTELA_MAX_IMPORT_BYTES" in text) == (413, True, True), text
    assert api.tutela.banks.count("LIST") == 0
    _none_left(before)


def test_declared_length_is_checked_before_the_body_is_read(api: ApiHarness) -> None:
    """The key and then the declared length are checked before any of the body is read (FastAPI reads an
    `UploadFile` parameter's body first), so neither a stranger nor an oversized list is spooled."""
    assert _declare_only(api, 10 * 1024**3, None) == "HTTP/1.1 401 Unauthorized"
    assert _declare_only(api, 10 * 1024**3, Role.ADMIN) == "HTTP/1.1 413 Request Entity Too Large"

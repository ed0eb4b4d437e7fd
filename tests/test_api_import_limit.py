"""`POST /v1/banks/{name}/import` reads its hash list within `max_import_bytes` (`tutela.api.upload_form`).

Hash lists are far larger than media, so the import has its own limit. A list within it still lands in the
bank; a body past it is refused with 413 naming the setting, whether its length is declared (refused before
any of it is read) or not (chunked: stopped at the limit plus part overhead), and the bank is unchanged. A
limit above Starlette's 1 MB spool threshold makes the form parser write the list to disk, so the tests also
check that no spooled file is left open.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from tests.api_support import ApiHarness, declare_only, harness, open_temp_files
from tutela.auth import Role
from tutela.banks import BankCategory
from tutela.settings import Settings

LIMIT = 2 * 1024 * 1024  # max_import_bytes of these tests; past the 1 MB spool threshold
LINE = 65  # a PDQ hash in hex and its newline
B = "tutela-import-boundary"
HEAD = f'--{B}\r\nContent-Disposition: form-data; name="file"; filename="list.txt"\r\n\r\n'.encode()
END = f"\r\n--{B}--\r\n".encode()
PATH = "/v1/banks/LIST/import?format=plain&signal_type=pdq"
MULTIPART = f"multipart/form-data; boundary={B}"


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


def _none_left(before: set[str]) -> None:
    deadline = time.monotonic() + 5
    while open_temp_files() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_temp_files() - before == set()


@pytest.mark.parametrize("chunked", [False, True])
def test_list_within_the_limit_lands_in_the_bank(api: ApiHarness, chunked: bool) -> None:
    before = open_temp_files()
    count = (LIMIT - 1024) // LINE  # spooled to disk, within the limit
    status, text = _post(api, _hashes(count, seed=1), chunked=chunked)
    assert status == 200, text
    assert api.tutela.banks.count("LIST") == count
    _none_left(before)


@pytest.mark.parametrize("chunked", [False, True])
def test_list_past_the_limit_is_refused_and_the_bank_unchanged(api: ApiHarness, chunked: bool) -> None:
    assert _post(api, _hashes(10, seed=2))[0] == 200
    before = open_temp_files()
    status, text = _post(api, _hashes(2 * LIMIT // LINE, seed=3), chunked=chunked)
    assert status == 413, text
    assert "TUTELA_MAX_IMPORT_BYTES" in text
    assert ("request size in bytes (so far)" in text) is chunked  # chunked: stopped while reading
    assert api.tutela.banks.count("LIST") == 10
    _none_left(before)


def test_list_just_past_the_limit_is_refused_after_parsing(api: ApiHarness) -> None:
    """A file a line past the limit fits the body's allowance for part headers: it is parsed, then refused."""
    before = open_temp_files()
    status, text = _post(api, _hashes(LIMIT // LINE + 1, seed=4), chunked=True)
    assert (status, "size in bytes" in text, "TUTELA_MAX_IMPORT_BYTES" in text) == (413, True, True), text
    assert api.tutela.banks.count("LIST") == 0
    _none_left(before)


def test_declared_length_is_checked_before_the_body_is_read(api: ApiHarness) -> None:
    """The key and then the declared length are checked before any of the body is read (FastAPI reads an
    `UploadFile` parameter's body first), so neither a stranger nor an oversized list is spooled."""
    assert declare_only(api, PATH, 10 * 1024**3, None, MULTIPART)[0] == "HTTP/1.1 401 Unauthorized"
    assert (
        declare_only(api, PATH, 10 * 1024**3, Role.ADMIN, MULTIPART)[0]
        == "HTTP/1.1 413 Request Entity Too Large"
    )

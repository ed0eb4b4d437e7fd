"""HMA's hashing and lookup routes decode uploads in the decoder pool's children, as items are: content that
crashes or hangs a decoder gets a 422, the child is replaced, and the server goes on answering."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api_support import ApiHarness, harness
from tests.pipeline_support import HOOKS
from tutela.demo.images import jpeg_bytes, picture
from tutela.pipeline.runtime import PipelineRuntime
from tutela.settings import Settings

JPEG = jpeg_bytes(picture(3, (320, 240)))
ROUTES = ("/h/hash", "/m/lookup")
"""`POST /m/lookup` also has a pure-ASGI fast path; it hands decoder failures to the route."""


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiHarness]:
    with harness(settings.model_copy(update={"decoder_timeout_seconds": 3.0})) as h:
        h.tutela.use_pipeline(PipelineRuntime(h.tutela, decoder_processes=1, hooks=HOOKS))
        yield h


def _post(api: ApiHarness, path: str, data: bytes) -> tuple[int, dict[str, object]]:
    response = api.client.post(path, files={"photo": ("p.jpg", data, "image/jpeg")}, headers=api.headers())
    return response.status_code, response.json()


@pytest.mark.parametrize("path", ROUTES)
def test_a_crashing_decoder_is_a_422_and_is_replaced(api: ApiHarness, path: str) -> None:
    status, body = _post(api, path, HOOKS.crash_marker + JPEG)  # type: ignore[operator]
    assert status == 422
    assert "could not decode the content" in str(body["detail"])
    assert api.tutela.pipeline.decoders().replaced == 1
    status, body = _post(api, path, JPEG)
    assert status == 200
    assert body["pdq"] if path == "/h/hash" else "pdq" in body


def test_a_hanging_decoder_is_a_422_after_the_time_limit(api: ApiHarness) -> None:
    status, body = _post(api, "/h/hash", HOOKS.hang_marker + JPEG)  # type: ignore[operator]
    assert status == 422
    assert "TUTELA_DECODER_TIMEOUT_SECONDS" in str(body["detail"])
    assert _post(api, "/h/hash", JPEG)[0] == 200


def test_hashes_from_the_children_are_the_in_process_hashes(api: ApiHarness) -> None:
    from tutela.media import MediaLimits
    from tutela.signals.extract import extract

    expected = {
        s.type: s.value for s in extract(JPEG, MediaLimits.from_settings(api.tutela.settings)).signals
    }
    status, body = _post(api, "/h/hash?types=pdq,md5,sha1,sha256", JPEG)
    assert status == 200
    assert body == expected
    status, body = _post(api, "/h/hash?types=md5", JPEG)
    assert body == {"md5": expected["md5"]}

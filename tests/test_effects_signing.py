"""Signatures: our verify and the receiver snippet in docs/webhooks.md accept exactly the signed requests."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tutela.effects import sign, verify

DOCS = Path(__file__).parent.parent / "docs" / "webhooks.md"
SECRET = "whsec_test"
BODY = b'{"id":"e1","type":"item.action"}'

Verifier = Callable[[str, bytes, str], bool]


@pytest.fixture(scope="module")
def documented_verify() -> Verifier:
    """The verification snippet from docs/webhooks.md, executed as written."""
    text = DOCS.read_text()
    match = re.search(r"<!-- verification-snippet.*?-->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "docs/webhooks.md lost its marked verification snippet"
    namespace: dict[str, object] = {}
    exec(compile(match.group(1), str(DOCS), "exec"), namespace)
    function = namespace["verify_tutela_signature"]
    assert callable(function)
    return function


def test_sign_has_the_documented_format() -> None:
    header = sign(SECRET, BODY, 1_767_225_600)
    assert re.fullmatch(r"t=1767225600,v1=[0-9a-f]{64}", header)


@pytest.mark.parametrize("use_docs", [False, True], ids=["verify", "docs-snippet"])
def test_fresh_signature_verifies(use_docs: bool, documented_verify: Verifier) -> None:
    check = documented_verify if use_docs else verify
    assert check(SECRET, BODY, sign(SECRET, BODY, int(time.time())))


@pytest.mark.parametrize("use_docs", [False, True], ids=["verify", "docs-snippet"])
def test_tampering_and_staleness_are_rejected(use_docs: bool, documented_verify: Verifier) -> None:
    check = documented_verify if use_docs else verify
    now = int(time.time())
    header = sign(SECRET, BODY, now)
    assert not check(SECRET, BODY + b" ", header)
    assert not check("other-secret", BODY, header)
    assert not check(SECRET, BODY, sign(SECRET, BODY, now - 301))
    assert not check(SECRET, BODY, sign(SECRET, BODY, now + 301))
    assert not check(SECRET, BODY, header.replace(f"t={now}", f"t={now + 1}"))
    for malformed in ["", "v1=abc", f"t={now}", "t=x,v1=y", "garbage"]:
        assert not check(SECRET, BODY, malformed)


def test_any_of_several_signatures_may_match_during_rotation() -> None:
    now = int(time.time())
    old = sign("old-secret", BODY, now).split(",")[1]
    new = sign(SECRET, BODY, now)
    assert verify(SECRET, BODY, f"{new},{old}")
    assert verify("old-secret", BODY, f"{new},{old}")


def test_tolerance_and_clock_are_parameters() -> None:
    header = sign(SECRET, BODY, 1_000)
    assert verify(SECRET, BODY, header, tolerance_seconds=10, now=1_009)
    assert not verify(SECRET, BODY, header, tolerance_seconds=10, now=1_011)

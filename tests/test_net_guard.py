"""The SSRF guard: non-public targets are refused by default; requests go to the checked address."""

from __future__ import annotations

import httpx
import pytest

from tutela.errors import TutelaError
from tutela.net import FetchFailed, GuardedTransport, TargetRefused, check_target

PUBLIC = "93.184.216.34"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1.2.3:8080/",
        "http://10.0.0.5/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://[::1]/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[ff02::1]/",
        "http://[2002:7f00:1::]/",
        "http://[64:ff9b::a00:1]/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://localhost:8000/",
    ],
)
def test_non_public_targets_are_refused_by_default(url: str) -> None:
    with pytest.raises(TargetRefused, match="TUTELA_ALLOW_PRIVATE_NETWORK_TARGETS"):
        check_target(url, allow_private=False)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "scheme 'ftp'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://127.0.0.1:6379/", "scheme 'gopher'"),
        ("http://user:hunter2@93.184.216.34/", "credentials"),
        ("http:///nohost", "no host"),
    ],
)
def test_bad_urls_are_refused_even_when_private_targets_are_allowed(url: str, reason: str) -> None:
    with pytest.raises(TargetRefused, match=reason) as refused:
        check_target(url, allow_private=True)
    assert "hunter2" not in str(refused.value)


def test_public_and_allowed_private_targets_pass() -> None:
    target = check_target(f"https://{PUBLIC}/hook", allow_private=False)
    assert (target.scheme, target.host, target.port, target.addresses) == ("https", PUBLIC, 443, (PUBLIC,))
    assert check_target("http://127.0.0.1:9/", allow_private=True).addresses == ("127.0.0.1",)
    assert check_target("http://[::ffff:8.8.8.8]/", allow_private=False).addresses == ("::ffff:808:808",)


def test_a_name_with_any_private_address_is_refused() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return [PUBLIC, "10.1.2.3"]

    with pytest.raises(TargetRefused, match=r"10\.1\.2\.3"):
        check_target("http://mixed.example/", allow_private=False, resolver=resolver)


def test_unresolvable_host_fails_as_a_network_error() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(FetchFailed, match="cannot resolve"):
        check_target("http://nowhere.invalid/", allow_private=False, resolver=resolver)
    assert issubclass(TargetRefused, TutelaError)


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "a..example"])
def test_a_host_no_resolver_takes_is_refused(host: str) -> None:
    # The system resolver's IDNA encoding refuses the label before any lookup, so no network is involved.
    with pytest.raises(TargetRefused, match="invalid host"):
        check_target(f"http://{host}/", allow_private=False)


def test_requests_are_pinned_to_the_checked_address_against_dns_rebinding() -> None:
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    seen: list[httpx.Request] = []

    def resolver(host: str, port: int) -> list[str]:
        return next(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    guarded = GuardedTransport(httpx.MockTransport(handler), allow_private=False, resolver=resolver)
    with httpx.Client(transport=guarded) as client:
        assert client.get("https://rebind.example:8443/path?q=1").status_code == 200
        with pytest.raises(TargetRefused, match=r"127\.0\.0\.1"):
            client.get("https://rebind.example:8443/path?q=1")
    [request] = seen
    assert request.url == httpx.URL(f"https://{PUBLIC}:8443/path?q=1")
    assert request.headers["Host"] == "rebind.example:8443"
    assert request.extensions["sni_hostname"] == "rebind.example"


def test_next_address_is_tried_when_one_does_not_connect() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "2001:db8::1":
            raise httpx.ConnectError("unreachable", request=request)
        return httpx.Response(200, text=request.url.host)

    guarded = GuardedTransport(
        httpx.MockTransport(handler), allow_private=True, resolver=lambda _h, _p: ["2001:db8::1", PUBLIC]
    )
    with httpx.Client(transport=guarded) as client:
        assert client.get("http://dual.example/").text == PUBLIC

"""fetch on a real loopback server and through MockTransport: size and time caps, checked redirects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import httpx
import pytest

from tutela.net import MAX_REDIRECTS, FetchFailed, FetchTimeout, FetchTooLarge, TargetRefused, fetch
from tutela.settings import Settings

PUBLIC = "93.184.216.34"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self) -> None:
        if self.path == "/ok":
            self._send(200, b"hello")
        elif self.path.startswith("/hop/"):
            left = int(self.path.rsplit("/", 1)[1])
            self._redirect("/ok" if left == 0 else f"/hop/{left - 1}")
        elif self.path == "/declared-big":
            self._send(200, b"x" * 5_000)
        elif self.path == "/chunked-big":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "40")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"z")
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self._send(404, b"")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def local(url: str, max_bytes: int = 2_000, timeout: float = 2.0) -> bytes:
    return fetch(url, max_bytes=max_bytes, timeout=timeout, allow_private=True)


def test_fetches_and_follows_redirects(server: str) -> None:
    assert local(f"{server}/ok") == b"hello"
    assert local(f"{server}/hop/{MAX_REDIRECTS - 1}") == b"hello"
    with pytest.raises(FetchFailed, match=f"more than {MAX_REDIRECTS} redirects"):
        local(f"{server}/hop/{MAX_REDIRECTS}")
    with pytest.raises(FetchFailed, match="HTTP 404"):
        local(f"{server}/missing")


def test_default_refuses_loopback(server: str) -> None:
    with pytest.raises(TargetRefused):
        fetch(f"{server}/ok", max_bytes=100, timeout=1, allow_private=False)


def test_size_cap_from_content_length_and_from_counting(server: str) -> None:
    with pytest.raises(FetchTooLarge, match="5,000 bytes exceeds the limit of 2,000") as declared:
        local(f"{server}/declared-big")
    assert declared.value.setting == "fetch_max_bytes"
    with pytest.raises(FetchTooLarge, match="limit of 2,000"):
        local(f"{server}/chunked-big")
    assert len(local(f"{server}/chunked-big", max_bytes=50_000)) == 50_000


def test_a_lying_content_length_does_not_raise_the_cap() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "10"}, content=iter([b"a" * 1_000] * 10))

    with pytest.raises(FetchTooLarge, match="limit of 2,000"):
        fetch(
            f"http://{PUBLIC}/",
            max_bytes=2_000,
            timeout=1,
            allow_private=False,
            transport=httpx.MockTransport(handler),
        )


def test_total_time_cap_cuts_off_a_dripping_server(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match=r"time limit of 0\.4 s"):
        local(f"{server}/drip", timeout=0.4)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/admin",
        "http://[::ffff:10.0.0.1]/",
        "http://internal.example/",
        "file:///etc/passwd",
    ],
)
def test_redirect_to_a_private_address_is_refused(location: str) -> None:
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(302, headers={"Location": location})

    addresses = {"public.example": [PUBLIC], "internal.example": ["10.0.0.7"]}
    with pytest.raises(TargetRefused):
        fetch(
            "http://public.example/start",
            max_bytes=100,
            timeout=1,
            allow_private=False,
            transport=httpx.MockTransport(handler),
            resolver=lambda host, _port: addresses[host],
        )
    assert requested == [f"http://{PUBLIC}/start"]


def test_fetch_max_bytes_defaults_to_max_media_bytes() -> None:
    settings = Settings()
    assert settings.fetch_max_bytes is None
    assert Settings.model_fields["fetch_max_bytes"].description is not None


def test_unparseable_url_is_refused_not_a_crash() -> None:
    """Found by the schemathesis run: a control character in the URL used to escape as httpx.InvalidURL."""
    with pytest.raises(TargetRefused, match="invalid URL"):
        fetch("h\x1c://x", max_bytes=10, timeout=1, allow_private=False)

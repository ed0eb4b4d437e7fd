"""Helpers for API tests: the real app served by uvicorn on loopback, keys for every role, auth headers."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi.routing import APIRoute

from tutela.api.app import create_app
from tutela.app import Tutela
from tutela.auth import Role
from tutela.settings import Settings


@dataclass
class ApiHarness:
    tutela: Tutela
    client: httpx.Client
    keys: dict[Role, str]
    service_id: int
    base_url: str

    def headers(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@contextmanager
def serve(tutela: Tutela, *, background: bool, hot_lookups: bool = True) -> Iterator[str]:
    """Run the app on 127.0.0.1 (a free port) in a thread; yields its base URL; stops it afterwards."""
    config = uvicorn.Config(
        create_app(tutela, background=background, hot_lookups=hot_lookups),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


@contextmanager
def harness(settings: Settings, *, background: bool = False) -> Iterator[ApiHarness]:
    tutela = Tutela.open(settings)
    service = tutela.services.create("demo-service")
    keys = {
        role: tutela.keys.create(role, service_id=service.id if role is Role.PLATFORM else None).token
        for role in Role
    }
    with (
        serve(tutela, background=background) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        yield ApiHarness(tutela, client, keys, service.id, base_url)
    tutela.close()


@contextmanager
def plain_client(api: ApiHarness) -> Iterator[httpx.Client]:
    """A client of the same Tutela served without the pure-ASGI fast paths: the fast paths' parity tests
    compare every answer with it."""
    with (
        serve(api.tutela, background=False, hot_lookups=False) as plain_url,
        httpx.Client(base_url=plain_url, timeout=30) as plain,
    ):
        yield plain


def request_counts(api: ApiHarness) -> dict[str, float]:
    """`tutela_http_requests_total` from /metrics, by its labels as written (`route="...",status="..."`)."""
    text = api.client.get("/metrics", headers=api.headers(Role.AUDITOR)).text
    return {
        line.partition("{")[2].rpartition("}")[0]: float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("tutela_http_requests_total{")
    }


def route_methods(route: APIRoute) -> list[str]:
    """The methods a route answers, HEAD left out; a route without a method list is an error here."""
    if not route.methods:
        raise AssertionError(f"route {route.path} has no method list")
    return sorted(route.methods - {"HEAD"})


def open_temp_files() -> set[str]:
    """The unlinked temporary files this process (test servers are threads of it) holds open: the spooled
    files of a multipart form that was not closed."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(tempfile.gettempdir()) and target.endswith("(deleted)"):
            found.add(target)
    return found


def declare_only(
    api: ApiHarness, path: str, length: int, role: Role | None, content_type: str = "application/json"
) -> tuple[str, str]:
    """The status line and body answered to headers declaring `length` bytes, none of them sent."""
    url = urllib.parse.urlsplit(api.base_url)
    auth = "" if role is None else f"Authorization: {api.headers(role)['Authorization']}\r\n"
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{auth}"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.partition(b"\r\n")[0].decode(), body.decode()

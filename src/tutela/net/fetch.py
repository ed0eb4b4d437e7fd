"""Fetching a URL safely: public targets only, redirects re-checked, size and total time capped.

The size cap is checked against Content-Length first (refused before reading), then counted while streaming
the decoded body, so neither a lying Content-Length nor a compressed bomb gets past it. The time cap covers
the whole fetch, redirects included: each request is given the time left, and the deadline is checked after
every chunk, so a server dripping bytes is cut off at the deadline (plus at most one read).
"""

from __future__ import annotations

import time

import httpx

from tutela.net.errors import FetchFailed, FetchTimeout, FetchTooLarge, TargetRefused
from tutela.net.guard import Resolver
from tutela.net.transport import GuardedTransport
from tutela.settings import Settings

MAX_REDIRECTS = 3
USER_AGENT = "Tutela"


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver | None = None,
) -> bytes:
    """GET `url` and return its body, following up to MAX_REDIRECTS redirects, each target checked again.

    Raises TargetRefused, FetchTooLarge, FetchTimeout or FetchFailed (non-2xx, DNS or connection failure).
    """
    deadline = time.monotonic() + timeout
    guarded = GuardedTransport(transport, allow_private=allow_private, resolver=resolver)
    with httpx.Client(transport=guarded, follow_redirects=False, trust_env=False) as client:
        try:
            current = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise TargetRefused(f"invalid URL {url[:200]!r}: {error}") from error
        for _ in range(MAX_REDIRECTS + 1):
            remaining = _remaining(deadline, timeout)
            request = client.build_request(
                "GET", current, headers={"User-Agent": USER_AGENT}, timeout=httpx.Timeout(remaining)
            )
            try:
                response = client.send(request, stream=True)
            except httpx.TimeoutException as error:
                raise FetchTimeout(_timeout_message(timeout)) from error
            except httpx.HTTPError as error:
                raise FetchFailed(f"fetching {current}: {error}") from error
            try:
                if response.is_redirect:
                    current = _redirect_target(current, response)
                    continue
                if not response.is_success:
                    raise FetchFailed(f"fetching {current}: HTTP {response.status_code}")
                return _read_capped(response, max_bytes, deadline, timeout)
            finally:
                response.close()
    raise FetchFailed(f"fetching {url}: more than {MAX_REDIRECTS} redirects")


def fetch_with_settings(url: str, settings: Settings, transport: httpx.BaseTransport | None = None) -> bytes:
    """`fetch` with the limits and the private-network switch from `settings`."""
    return fetch(
        url,
        max_bytes=settings.fetch_max_bytes or settings.max_media_bytes,
        timeout=settings.fetch_timeout_seconds,
        allow_private=settings.allow_private_network_targets,
        transport=transport,
    )


def _redirect_target(current: httpx.URL, response: httpx.Response) -> httpx.URL:
    location = response.headers.get("Location")
    if not location:
        raise FetchFailed(f"fetching {current}: HTTP {response.status_code} redirect without Location")
    try:
        return current.join(location)
    except httpx.InvalidURL as error:
        raise TargetRefused(f"redirect from {current} to invalid URL {location!r}") from error


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float, timeout: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise FetchTooLarge(int(declared), max_bytes, "fetch_max_bytes")
    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise FetchTooLarge(len(body), max_bytes, "fetch_max_bytes")
            _remaining(deadline, timeout)
    except httpx.TimeoutException as error:
        raise FetchTimeout(_timeout_message(timeout)) from error
    except httpx.HTTPError as error:
        raise FetchFailed(f"reading {response.request.url}: {error}") from error
    return bytes(body)


def _remaining(deadline: float, timeout: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchTimeout(_timeout_message(timeout))
    return remaining


def _timeout_message(timeout: float) -> str:
    return f"fetch exceeded the time limit of {timeout:g} s (setting TUTELA_FETCH_TIMEOUT_SECONDS)"

"""An httpx transport that checks every request's target and connects to the checked address only.

Wrap any transport (the real `httpx.HTTPTransport`, or an `httpx.MockTransport` in tests) in
`GuardedTransport`: each request, redirects included, goes through `check_target`, and is then sent to the
resolved IP address itself, with the original Host header and, for https, the original name as TLS server
name (SNI) and for certificate verification. The system resolver is never consulted a second time, so DNS
rebinding cannot swap the address after the check.
"""

from __future__ import annotations

import threading

import httpx

from tutela.net.guard import Resolver, check_target


class GuardedTransport(httpx.BaseTransport):
    """Refuse non-public targets (unless allowed) and pin each request to the address that was checked."""

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        *,
        allow_private: bool,
        resolver: Resolver | None = None,
    ) -> None:
        self._inner = inner
        self._allow_private = allow_private
        self._resolver = resolver
        self._per_host: dict[str, httpx.BaseTransport] = {}
        self._lock = threading.Lock()

    def _transport_for(self, host: str) -> httpx.BaseTransport:
        """The given transport, or one connection pool per host name.

        The pool is keyed by the IP address it connects to; sharing it between names would let a TLS
        connection verified for one name carry requests for another name on the same address.
        """
        if self._inner is not None:
            return self._inner
        with self._lock:
            transport = self._per_host.get(host)
            if transport is None:
                transport = self._per_host[host] = httpx.HTTPTransport(trust_env=False)
            return transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = check_target(request.url, self._allow_private, self._resolver)
        extensions = dict(request.extensions)
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        last_error: httpx.ConnectError | None = None
        for address in target.addresses:
            pinned = httpx.Request(
                request.method,
                request.url.copy_with(host=address),
                headers=request.headers,
                stream=request.stream,
                extensions=extensions,
            )
            try:
                return self._transport_for(target.host).handle_request(pinned)
            except httpx.ConnectError as error:
                last_error = error
        assert last_error is not None  # check_target returns at least one address
        raise last_error

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
        with self._lock:
            for transport in self._per_host.values():
                transport.close()
            self._per_host.clear()

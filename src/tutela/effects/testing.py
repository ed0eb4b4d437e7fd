"""A real webhook receiver on loopback for tests: records every request and answers with chosen statuses.

    with WebhookReceiver() as receiver:
        ...  # point a WebhookEndpoint at receiver.url, run a WebhookDeliverer
        assert [r.event_id for r in receiver.received] == [...]

Tests that use it must set `allow_private_network_targets=True`, since it listens on 127.0.0.1.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from tutela.effects.signing import EVENT_ID_HEADER, ITEM_SEQ_HEADER, SIGNATURE_HEADER


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event_id(self) -> str:
        return self.headers.get(EVENT_ID_HEADER.lower(), "")

    @property
    def item_seq(self) -> int | None:
        value = self.headers.get(ITEM_SEQ_HEADER.lower())
        return None if value is None else int(value)

    @property
    def signature(self) -> str:
        return self.headers.get(SIGNATURE_HEADER.lower(), "")


StatusChooser = Callable[[int], int]
"""Given the 0-based number of the request, the HTTP status to answer with."""


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 in a background thread; close it (or use `with`) when done.

    With `answer_after`, every request is recorded on arrival but answered only once that event is set: a
    slow endpoint whose slowness the test controls (set it before closing the receiver).
    """

    def __init__(
        self, status: StatusChooser | None = None, answer_after: threading.Event | None = None
    ) -> None:
        self.status: StatusChooser = status or (lambda _n: 200)
        self._answer_after = answer_after
        self._lock = threading.Lock()
        self._received: list[ReceivedRequest] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="webhook-receiver", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    @property
    def received(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            status = self.status(len(self._received))
            self._received.append(ReceivedRequest(path, headers, body, status))
        return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {key.lower(): value for key, value in self.headers.items()}
                status = receiver._record(self.path, headers, body)
                if receiver._answer_after is not None:
                    receiver._answer_after.wait()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Keep test output quiet."""

        return Handler

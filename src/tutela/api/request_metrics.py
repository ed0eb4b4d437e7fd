"""Count and time every HTTP request by route and status, as a pure ASGI middleware.

Pure ASGI rather than `BaseHTTPMiddleware`: that one runs the app in a separate task with a memory stream
for the body, about 0.3 ms of CPU per request for two numbers. Here the only work per request is one wrapped
`send` and the two metric updates. The route label is the matched route's path template (from the scope the
router fills in), or "unmatched"; a request whose app raised before answering is counted as status 500.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutela.ops.metrics import Metrics


class RequestMetrics:
    """ASGI middleware recording `tutela_http_requests` and `tutela_http_request_seconds`."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route=path, status=str(status)).inc()
            self.metrics.latency.labels(route=path).observe(time.perf_counter() - start)

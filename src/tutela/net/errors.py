"""Errors of outbound HTTP (URL fetches and webhook requests).

TutelaError
└── NetError                   an outbound request could not be made or completed
    ├── TargetRefused          the URL is not allowed: scheme, credentials, or a non-public address (SSRF)
    ├── FetchTooLarge          the response body exceeds the size limit
    ├── FetchTimeout           the request took longer than the time limit
    └── FetchFailed            DNS failure, connection error, non-2xx status or too many redirects
"""

from __future__ import annotations

from tutela.errors import TutelaError


class NetError(TutelaError):
    """An outbound request could not be made or completed."""


class TargetRefused(NetError):
    """The URL may not be requested; the message says why and which setting would allow it, if any."""


class FetchTooLarge(NetError):
    """The response body exceeds the configured size limit."""

    def __init__(self, size: int, limit: int, setting: str) -> None:
        self.size = size
        self.limit = limit
        self.setting = setting
        super().__init__(
            f"response body of at least {size:,} bytes exceeds the limit of {limit:,} "
            f"(setting TUTELA_{setting.upper()})"
        )


class FetchTimeout(NetError):
    """The request exceeded the configured time limit."""


class FetchFailed(NetError):
    """DNS failure, connection error, a non-2xx answer, or too many redirects."""

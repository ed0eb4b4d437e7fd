"""Outbound HTTP that cannot be turned against the network it runs in (SSRF), with size and time caps."""

from tutela.net.errors import FetchFailed, FetchTimeout, FetchTooLarge, NetError, TargetRefused
from tutela.net.fetch import MAX_REDIRECTS, fetch, fetch_with_settings
from tutela.net.guard import Resolver, Target, check_target, is_public, system_resolver
from tutela.net.transport import GuardedTransport

__all__ = [
    "MAX_REDIRECTS",
    "FetchFailed",
    "FetchTimeout",
    "FetchTooLarge",
    "GuardedTransport",
    "NetError",
    "Resolver",
    "Target",
    "TargetRefused",
    "check_target",
    "fetch",
    "fetch_with_settings",
    "is_public",
    "system_resolver",
]

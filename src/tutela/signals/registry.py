"""The explicit list of signal types; names are storage keys, so duplicates are refused at import time."""

from __future__ import annotations

from tutela.errors import UnknownSignalType
from tutela.signals.base import SignalType
from tutela.signals.md5 import MD5
from tutela.signals.pdq.signal import PDQ
from tutela.signals.sha1 import SHA1
from tutela.signals.sha256 import SHA256


def _build(types: list[SignalType]) -> dict[str, SignalType]:
    registry: dict[str, SignalType] = {}
    for signal_type in types:
        if signal_type.name in registry:
            raise ValueError(f"signal type name {signal_type.name!r} registered twice")
        registry[signal_type.name] = signal_type
    return registry


SIGNAL_TYPES: dict[str, SignalType] = _build([PDQ, MD5, SHA1, SHA256])


def get_signal_type(name: str) -> SignalType:
    """The registered signal type called `name`, or UnknownSignalType listing the known names."""
    try:
        return SIGNAL_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(SIGNAL_TYPES))
        raise UnknownSignalType(f"unknown signal type {name!r}; known types: {known}") from None

"""Signal types: typed facts extracted from content (PDQ, MD5, SHA-1, SHA-256)."""

from tutela.signals.base import BytesExtractor, Comparison, Signal, SignalType
from tutela.signals.registry import SIGNAL_TYPES, get_signal_type

__all__ = [
    "SIGNAL_TYPES",
    "BytesExtractor",
    "Comparison",
    "Signal",
    "SignalType",
    "get_signal_type",
]

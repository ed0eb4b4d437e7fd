"""Tutela: a self-hosted trust-and-safety engine.

The public surface is re-exported here; everything else is internal and may change.
"""

from tutela.errors import (
    CorruptMedia,
    DecodeTimeout,
    ExportForbidden,
    InvalidInput,
    InvalidSignal,
    MediaError,
    MediaTooLarge,
    NotFound,
    TutelaError,
    UnsupportedMedia,
)
from tutela.settings import Settings, get_settings

__all__ = [
    "CorruptMedia",
    "DecodeTimeout",
    "ExportForbidden",
    "InvalidInput",
    "InvalidSignal",
    "MediaError",
    "MediaTooLarge",
    "NotFound",
    "Settings",
    "TutelaError",
    "UnsupportedMedia",
    "get_settings",
]

__version__ = "0.1.0"

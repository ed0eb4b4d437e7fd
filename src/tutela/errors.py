"""Tutela's exception tree.

Every error Tutela raises on purpose derives from `TutelaError`, so callers can catch one type at an entry
point (CLI, API, batch) and turn it into a clear message without hiding programming errors.

    TutelaError
    ├── MediaError                 content that cannot be decoded safely
    │   ├── UnsupportedMedia       format not recognised from magic bytes, or no decoder for it
    │   │   └── EmptyMedia         zero bytes
    │   ├── MediaTooLarge          a configured limit (bytes, pixels, frames) is exceeded
    │   ├── CorruptMedia           recognised but truncated or malformed
    │   └── DecodeTimeout          decoding took longer than the configured limit
    ├── InvalidInput               a value the caller sent is malformed (a name, an item field); a ValueError
    ├── InvalidSignal              a serialized signal value that does not validate (bad hex, wrong length)
    ├── UnknownSignalType          a signal type name not in the registry
    ├── BankError                  bank and entry operations
    │   ├── NotFound               the bank or entry does not exist
    │   ├── AlreadyExists          a bank with that name exists, or the bank already holds that signal
    │   └── ExportForbidden        the bank's licence forbids export (`exportable` is false)
    ├── ImportFormatError          an import file whose format cannot be recognised at all
    ├── PolicyError                a policy file that does not validate (tutela.policy.problems)
    ├── PipelineError              submission and processing (tutela.pipeline.errors: QueueFull, ...)
    └── NetError                   outgoing requests (tutela.net.errors: TargetRefused, FetchTooLarge, ...)

Errors of a domain package live beside it and derive from TutelaError; the API maps each to a 4xx status.
Any other exception, a plain ValueError included, is a programming error, and the API answers it with 500.

Messages say what happened, name the limit and the value where there is one, and what to do.
"""

from __future__ import annotations


class TutelaError(Exception):
    """Base of every error Tutela raises on purpose."""


class MediaError(TutelaError):
    """Content could not be decoded safely."""


class UnsupportedMedia(MediaError):
    """The bytes are not a format Tutela decodes (detected from magic bytes, never the file name)."""


class EmptyMedia(UnsupportedMedia):
    """The content is empty (0 bytes)."""


class MediaTooLarge(MediaError):
    """A configured limit on bytes, pixels or frames is exceeded; the message names the limit and value."""

    def __init__(self, what: str, value: int, limit: int, setting: str) -> None:
        self.what = what
        self.value = value
        self.limit = limit
        self.setting = setting
        super().__init__(
            f"{what} {value:,} exceeds the limit of {limit:,} (setting TUTELA_{setting.upper()})"
        )


class CorruptMedia(MediaError):
    """The format was recognised but the data is truncated or malformed."""


class DecodeTimeout(MediaError):
    """Decoding exceeded the configured time limit."""


class InvalidInput(TutelaError, ValueError):
    """A value the caller sent (a name, a field of an item) is malformed; the message names it and the rule.

    Also a ValueError, so callers outside the API that catch ValueError for bad input keep working."""


class InvalidSignal(TutelaError):
    """A serialized signal value does not validate."""


class UnknownSignalType(TutelaError):
    """A signal type name that is not registered."""


class BankError(TutelaError):
    """A bank or bank entry operation failed."""


class NotFound(BankError):
    """The bank or entry does not exist."""


class AlreadyExists(BankError):
    """A bank with that name exists, or the bank already holds that signal."""


class ExportForbidden(BankError):
    """The bank is marked not exportable (licences such as NCMEC's or StopNCII's forbid redistribution)."""


class ImportFormatError(TutelaError):
    """An import file whose format cannot be recognised at all (bad lines are reported, not raised)."""

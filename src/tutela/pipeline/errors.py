"""Errors of the item pipeline.

    TutelaError
    └── PipelineError
        ├── InvalidSubmission      neither or both of content and signals, or an unknown lane
        ├── QueueFull              ready + leased jobs over queue_max_pending; retry after a while
        ├── UnknownEvaluation      no evaluation with that id
        ├── SpoolError             a spool file is missing or fails authentication (wrong key, tampering)
        ├── LeaseLost              a worker's lease was taken over; its result is discarded
        └── DecoderError           the decoder process failed, not the content's format
            ├── DecoderCrashed     the process died (crash, out of memory) or raised; it was replaced
            └── DecoderTimedOut    the process exceeded decoder_timeout_seconds; it was killed and replaced

`DecoderTimedOut` is the hard limit enforced by killing a child process; `tutela.errors.DecodeTimeout` is the
soft limit checked inside a decode and is reported as the extraction's error like any other MediaError.
"""

from __future__ import annotations

from tutela.errors import TutelaError


class PipelineError(TutelaError):
    """An item pipeline operation failed."""


class InvalidSubmission(PipelineError):
    """The submission is malformed (say what is wrong and what to send instead)."""


class QueueFull(PipelineError):
    """Too many jobs are pending; the caller should retry after `retry_after_seconds`."""

    def __init__(self, pending: int, limit: int, retry_after_seconds: int) -> None:
        self.pending = pending
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            f"{pending:,} jobs are pending, over the limit of {limit:,} (setting TUTELA_QUEUE_MAX_PENDING); "
            f"retry after {retry_after_seconds} s"
        )


class UnknownEvaluation(PipelineError):
    """No evaluation has the id asked for."""


class SpoolError(PipelineError):
    """Spooled content cannot be read back."""


class LeaseLost(PipelineError):
    """The job's lease expired and another worker took it; this worker's result must not be stored."""


class DecoderError(PipelineError):
    """The decoder process failed; the job counts an attempt and is retried up to job_max_attempts."""


class DecoderCrashed(DecoderError):
    """The decoder process died or raised while extracting; it has been replaced."""


class DecoderTimedOut(DecoderError):
    """The decoder process exceeded decoder_timeout_seconds; it has been killed and replaced."""

"""The durable item pipeline: submit -> item -> signals -> matches -> verdict -> outbox.

    runtime = PipelineRuntime(app, policy)          # decoder pool + worker thread (embedded deployment)
    runtime.start()
    accepted = runtime.submit(service_id=..., content_id="post-1", context=ItemContext(Surface.PUBLIC_POST),
                              content=data)
    finished = runtime.wait_for(accepted.evaluation.id, timeout=5)

`tutela worker` runs the same `Worker` in separate processes. The life of an item, its states, retries and
crash semantics are described in docs/pipeline.md.
"""

from tutela.pipeline.context import ItemContext, Lane, Surface
from tutela.pipeline.decoder_pool import DecoderHooks, DecoderPool
from tutela.pipeline.errors import (
    DecoderCrashed,
    DecoderError,
    DecoderTimedOut,
    InvalidSubmission,
    LeaseLost,
    PipelineError,
    QueueFull,
    SpoolError,
    UnknownEvaluation,
)
from tutela.pipeline.models import Evaluation, EvaluationStatus, InputKind, Item, Job, JobState
from tutela.pipeline.notify import Notifier, wait_for
from tutela.pipeline.queue import JobQueue, LeasedJob, QueueLimits
from tutela.pipeline.reads import evaluations_of, get_evaluation, get_item, queue_depth
from tutela.pipeline.runtime import PipelineRuntime
from tutela.pipeline.spool import Spool, spool_for
from tutela.pipeline.submit import Submission, submit
from tutela.pipeline.worker import Worker

__all__ = [
    "DecoderCrashed",
    "DecoderError",
    "DecoderHooks",
    "DecoderPool",
    "DecoderTimedOut",
    "Evaluation",
    "EvaluationStatus",
    "InputKind",
    "InvalidSubmission",
    "Item",
    "ItemContext",
    "Job",
    "JobQueue",
    "JobState",
    "Lane",
    "LeaseLost",
    "LeasedJob",
    "Notifier",
    "PipelineError",
    "PipelineRuntime",
    "QueueFull",
    "QueueLimits",
    "Spool",
    "SpoolError",
    "Submission",
    "Surface",
    "UnknownEvaluation",
    "Worker",
    "evaluations_of",
    "get_evaluation",
    "get_item",
    "queue_depth",
    "spool_for",
    "submit",
    "wait_for",
]

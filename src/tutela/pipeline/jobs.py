"""Reading what a batch of leased jobs needs: evaluation, item, service and the service's disabled banks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, select

from tutela.db.session import Database
from tutela.pipeline.models import Evaluation, Item
from tutela.pipeline.queue import LeasedJob
from tutela.pipeline.records import signal_from_json
from tutela.pipeline.results import JobContext
from tutela.services.facts import DISABLED_BANKS
from tutela.services.models import Service
from tutela.signals.extract import Extraction
from tutela.signals.pdq.hasher import PdqResult
from tutela.signals.pdq.signal import PDQ

UNKNOWN_QUALITY = 100
"""Matching quality of a submitted PDQ hash sent without one: not low, as for bank entries without a quality.
The policy sees the quality as sent (None)."""


_CONTEXTS = (
    select(
        Evaluation.id,
        Evaluation.service_id,
        Evaluation.spool_name,
        Evaluation.digest,
        Evaluation.signals,
        Item.id.label("item_id"),
        Item.content_id,
        Item.surface,
        Item.jurisdiction,
        Item.age_band,
        Service.name.label("service_name"),
    )
    .join(Item, Item.id == Evaluation.item_id)
    .join(Service, Service.id == Evaluation.service_id)
    .where(Evaluation.id.in_(bindparam("evaluation_ids", expanding=True)))
)
"""Built once and run on a bare connection: every leased batch reads it, with DISABLED_BANKS."""


def load_contexts(database: Database, jobs: Sequence[LeasedJob]) -> list[JobContext]:
    """One context per job, in the jobs' order."""
    by_evaluation = {job.evaluation_id: job for job in jobs}
    with database.connect() as connection:
        rows = connection.execute(_CONTEXTS, {"evaluation_ids": list(by_evaluation)}).all()
        service_ids = {row.service_id for row in rows}
        disabled: dict[int, set[str]] = {service_id: set() for service_id in service_ids}
        for service_id, bank_name in connection.execute(DISABLED_BANKS, {"service_ids": list(service_ids)}):
            disabled[service_id].add(bank_name)
    contexts = {
        row.id: JobContext(
            job=by_evaluation[row.id],
            evaluation_id=row.id,
            item_id=row.item_id,
            service_id=row.service_id,
            service_name=row.service_name,
            content_id=row.content_id,
            surface=row.surface,
            jurisdiction=row.jurisdiction,
            age_band=row.age_band,
            spool_name=row.spool_name,
            digest=row.digest,
            signals=tuple(row.signals) if row.signals is not None else None,
            disabled_banks=frozenset(disabled[row.service_id]),
        )
        for row in rows
    }
    return [contexts[job.evaluation_id] for job in jobs if job.evaluation_id in contexts]


def signals_extraction(rows: Iterable[dict[str, Any]]) -> Extraction:
    """An Extraction of precomputed signals, with the PDQ hash as the matcher's PDQ query."""
    signals = tuple(signal_from_json(row) for row in rows)
    pdq = next((s for s in signals if s.type == PDQ.name), None)
    result = None
    if pdq is not None:
        quality = UNKNOWN_QUALITY if pdq.quality is None else pdq.quality
        result = PdqResult(bytes.fromhex(pdq.value), quality, pdq.variant or "")
    return Extraction(signals=signals, pdq=result)

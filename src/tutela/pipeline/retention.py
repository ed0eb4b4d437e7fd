"""Retention sweeps run by every worker: spool files, and the bank change log.

Spool: delete kept content whose time is up, and files no evaluation refers to.

A file stays referenced (`evaluations.spool_name`) from the submit that wrote it until extraction, or until
`spool_expires_at` when the verdict held it for review or the job was dead-lettered. A file nobody refers to
comes from a crash between writing and committing (submit) or between committing and deleting (worker); it is
deleted once older than `spool_orphan_grace_seconds`, which leaves any submit still in flight alone.

Bank change log: changes older than `bank_change_retention_hours` are deleted in short transactions
(`tutela.banks.changes.trim_changes`); a match index that fell further behind reloads in full.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from tutela.banks.changes import trim_changes
from tutela.db.session import Database
from tutela.db.types import utc_now
from tutela.pipeline.models import Evaluation
from tutela.pipeline.spool import Spool

_BATCH = 500


@dataclass(frozen=True, slots=True)
class SweepResult:
    expired: int
    orphans: int


def sweep_spool(database: Database, spool: Spool, *, orphan_grace_seconds: float) -> SweepResult:
    """Delete expired and orphaned spool files; safe to run from several processes at once."""
    now = utc_now()
    expired = 0
    due = (Evaluation.spool_name.is_not(None), Evaluation.spool_expires_at < now)
    while True:
        # Looked for without the write lock, which every writer of every process waits for; only the rows
        # found are taken again under it, by key (another process may have swept them meanwhile).
        with database.read() as session:
            due_ids = list(session.scalars(select(Evaluation.id).where(*due).limit(_BATCH)))
        if not due_ids:
            break
        with database.write() as session:
            rows = session.execute(
                select(Evaluation.id, Evaluation.spool_name).where(Evaluation.id.in_(due_ids), *due)
            ).all()
            if rows:
                session.execute(
                    update(Evaluation).where(Evaluation.id.in_([r.id for r in rows])).values(spool_name=None)
                )
        for row in rows:
            spool.delete(row.spool_name)
        expired += len(rows)
    cutoff = time.time() - orphan_grace_seconds
    candidates = [name for name, mtime in spool.names() if mtime < cutoff]
    orphans = 0
    for start in range(0, len(candidates), _BATCH):
        batch = candidates[start : start + _BATCH]
        with database.read() as session:
            referenced = set(
                session.scalars(select(Evaluation.spool_name).where(Evaluation.spool_name.in_(batch)))
            )
        for name in batch:
            if name not in referenced:
                spool.delete(name)
                orphans += 1
    return SweepResult(expired, orphans)


def sweep_bank_changes(database: Database, *, retention_hours: float) -> int:
    """Delete bank changes older than `retention_hours` (a bounded number per call); returns how many."""
    return trim_changes(database, utc_now() - timedelta(hours=retention_hours))

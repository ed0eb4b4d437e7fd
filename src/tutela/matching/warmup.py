"""Compile the PDQ scan kernels before the first real query needs them.

An index with no entries never runs its kernels, so without this the first query after the first bank entry
arrives would pay about a second of JIT compilation (or of loading numba's cache), on the hot path.
"""

from __future__ import annotations

import numpy as np

from tutela.matching import chunk_tables as ct
from tutela.matching.pdq_index import PdqIndex


def warm_up_matching() -> None:
    """Run the scan kernel once, for one query and for a batch, on a one-entry index; the chunk tables'
    kernels on two rows (an index builds tables only past 65,536 entries)."""
    index = PdqIndex(low_quality_threshold=0, threads=1)
    index.set_bank(1, threshold=31, enabled=True)
    index.add(np.array([1]), np.array([1]), np.zeros((1, 32), dtype=np.uint8))
    index.query_one(bytes(32))
    index.query(np.zeros((2, 32), dtype=np.uint8), np.array([False, True]))
    index.close()
    words = np.zeros((4, 2), dtype=np.uint64)
    tables = ct.build_tables(words, 2)
    queries, qmax = words.T.copy(), np.array([31, 8])
    ct.probe_sizes(tables.offsets, queries, qmax)
    ones = np.ones(2, dtype=np.uint8)
    rule = (
        np.zeros(2, dtype=np.uint16),
        ones,
        queries,
        qmax,
        np.zeros(2, dtype=bool),
        np.array([31]),
        ones[:1],
        0,
    )
    ct.probe_batch(words, tables.offsets, tables.order, rule)

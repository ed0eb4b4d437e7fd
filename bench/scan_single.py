"""One-query PDQ scans at 1M entries: the latency an upload's match pays, warm and with cold caches.

`--tables` builds the chunk tables (as the service does), `--threads N` gives the index N threads (the
service's default is one per core); the CPU time per warm query, all threads counted, shows what a query
costs the machine beside its latency.

`bench/matching.py` keeps the fastest of repeated one-query calls, so its index stays partly in the CPU's
caches; in a server, decoding and requests evict it between uploads. This script times each planted query
once, then again after touching 64 MB of other memory, on `bench/matching.py`'s uniform and correlated data,
one thread. `--src DIR` imports Tutela from another checkout's `src`, to compare two versions on the same
machine: run both, alternating, e.g.

    git worktree add /tmp/before <commit> && for i in 1 2; do
      .venv/bin/python bench/scan_single.py --src /tmp/before/src; .venv/bin/python bench/scan_single.py; done
"""

from __future__ import annotations

import os
import sys

# This directory holds `http.py`, which shadows the standard library's `http`; keep it off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--src", help="import tutela from this src directory instead of the installed one")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--tables", action="store_true", help="build chunk tables (index_chunk_tables)")
    parser.add_argument("--threads", type=int, default=1, help="PdqIndex threads")
    args = parser.parse_args()
    if args.src:
        sys.path.insert(0, os.path.abspath(args.src))
    from tutela.matching.pdq_index import PdqIndex

    spec = importlib.util.spec_from_file_location("bench_matching", HERE / "matching.py")
    assert spec is not None
    assert spec.loader is not None
    matching = importlib.util.module_from_spec(spec)
    sys.modules["bench_matching"] = matching
    spec.loader.exec_module(matching)

    import tutela

    print(
        f"tutela from {Path(tutela.__file__).parent}; n={args.n:,}; threshold 31; "
        f"{args.threads} thread(s); chunk tables {'on' if args.tables else 'off'}"
    )
    for kind in ("uniform", "correlated"):
        rng = np.random.default_rng(7)
        db = matching.make_data(kind, args.n, rng)
        queries = matching.plant(db, args.queries, rng)
        index = PdqIndex(threads=args.threads, chunk_tables=args.tables)
        index.set_bank(1, threshold=31, enabled=True)
        index.add(np.arange(len(db)), np.ones(len(db), np.int64), db)
        index.compact()  # one segment, with tables when asked, as the service has after loading a bank
        index.query_one(queries[0].tobytes())  # compile
        other = np.zeros(64 << 20, np.uint8)
        warm, cold = [], []
        cpu = time.process_time()
        for q in queries:
            start = time.perf_counter()
            index.query_one(q.tobytes())
            warm.append(time.perf_counter() - start)
        cpu_ms = (time.process_time() - cpu) / len(queries) * 1e3
        for q in queries[:100]:
            other += 1  # evict the index from the caches, as a decode between uploads does
            start = time.perf_counter()
            index.query_one(q.tobytes())
            cold.append(time.perf_counter() - start)
        print(
            f"{kind:10s} one query p50: warm {np.median(warm) * 1e3:.2f} ms, "
            f"cold {np.median(cold) * 1e3:.2f} ms; CPU per warm query {cpu_ms:.2f} ms"
        )


if __name__ == "__main__":
    main()

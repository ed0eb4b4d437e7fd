"""Numba kernels for exact PDQ range search: hardware popcount and two blocked scans.

Why a scan: an exact answer (recall 1.0 at every distance up to the threshold) within 40 bytes per entry
leaves no room for multi-index hashing tables, and a well-blocked scan of a batch is several times faster
than those tables on correlated data. (The service can add the tables, `chunk_tables.py`, for single
queries over spread-out hashes; queries whose buckets are crowded still come here.)

The scans stay exact by filtering with a *lower bound* of the Hamming distance and verifying every
survivor in full:

    popcount(d0 | d1 | d2 | d3) <= popcount(d0) + popcount(d1) + popcount(d2) + popcount(d3)

where d0..d3 are the XORed 64-bit words. One popcount per pair instead of four, and on real-looking
(correlated) hashes only about 1 pair in 10^5 survives at threshold 31. The filter loops are written so that
LLVM vectorises them (AVX2 nibble-lookup popcount); rows are stored as four word columns for that reason.

One kernel serves batches and single queries, with two filters. A single query is memory-bound (at 1M rows
it streams 32 MB), so it filters head-first: words 0-1 only, popcount(d0) + popcount(d1) <= qmax, halving the
bytes read. The head passes about 0.17% of rows on correlated hashes (the OR of the two words would pass 1%,
too many), and those rows' tails are scattered reads: an earlier head-first scan that read them at once waited
on memory for each and was slower than reading all four words (2.0 vs 1.8 ms at 1M). So survivors are written
to a byte mask, gathered per block, their tail words prefetched, and verified only after VERIFY_BATCH of them:
the prefetches land while the next blocks are filtered. Measured at 1M rows, one thread, threshold 31
(PdqIndex.query, median ms): uniform 3.0 -> 1.8, correlated 3.2 -> 2.5; the kernel alone 2.6 -> 1.6 and
2.5 -> 2.0, against a floor of about 1.1 ms to stream two columns. Batches of two or more queries share each
block from cache and are compute-bound; there the head's two popcounts and the mask stores cost more than
the bytes they save (correlated, 1M: +25% at 8 and 16 queries, a wash at 2-4; at 100k rows, cache-resident,
+26% at 2), so they keep the four-word filter and count hits first, listing a block's survivors only when
there are some.

Per-row flags and bank slots are checked only for survivors, so a disabled entry or bank costs nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

I64 = npt.NDArray[np.int64]
Rule = tuple[
    npt.NDArray[np.uint16],  # slots: each row's bank slot
    npt.NDArray[np.uint8],  # flags: each row's FLAG_*
    npt.NDArray[np.uint64],  # queries, as (n, 4) words
    I64,  # qmax: each query's loosest threshold
    npt.NDArray[np.bool_],  # qlq: each query's low quality
    I64,  # bank_thr
    npt.NDArray[np.uint8],  # bank_on
    int,  # lq_thr
]
"""What `accept` needs for a candidate pair, passed as one tuple (numba unpacks it at compile time)."""

FLAG_ENABLED = 1
FLAG_LOW_QUALITY = 2
FLAG_REMOVED = 4

# 1024 rows x 4 words x 8 bytes = 32 KiB: a block stays in L1/L2 while every query of a batch runs on it.
BATCH_BLOCK_ROWS = 1024
# Calls with at most this many queries filter on the head (words 0-1) only; batches are compute-bound and
# filter on all four words, whose single popcount is cheaper per pair than the head's two (module docstring).
HEAD_FIRST_MAX_QUERIES = 1
# Candidates gathered (and their tails prefetched) before they are verified: enough rows for the prefetches
# to land while the next blocks are filtered.
VERIFY_BATCH = 256


@intrinsic
def _ctpop(typingctx: Any, x: Any) -> Any:
    """`llvm.ctpop.i64`: one POPCNT instruction (or a vector popcount inside vectorised loops)."""
    sig = types.int64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, args)

    return sig, codegen


popcount: Any = _ctpop  # called with one uint64 inside kernels; numba supplies the typing context


@intrinsic
def _cttz(typingctx: Any, x: Any) -> Any:
    """`llvm.cttz.i64` (zero input undefined): index of the lowest set bit, one TZCNT instruction."""
    sig = types.int64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return sig, codegen


@intrinsic
def _prefetch_row(typingctx: Any, column: Any, row: Any) -> Any:
    """`llvm.prefetch` of `column[row]` (a contiguous 1-D array) for reading; it never faults or waits."""
    if not (isinstance(column, types.Array) and column.ndim == 1 and column.layout == "C"):
        return None
    sig = types.void(column, row)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ary = context.make_array(signature.args[0])(context, builder, value=args[0])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", fnty=fnty)
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), i8p)
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])  # read, keep in every level, data cache
        return context.get_dummy_value()

    return sig, codegen


lowest_bit: Any = _cttz  # as `popcount`: typed by numba inside kernels
prefetch: Any = _prefetch_row


@njit(nogil=True, cache=True)
def grow(out: I64) -> I64:
    bigger = np.empty((out.shape[0] * 2, 3), dtype=np.int64)
    bigger[: out.shape[0]] = out
    return bigger


@njit(nogil=True, cache=True, inline="always")
def append(out: I64, k: int, query: int, row: int, dist: int) -> tuple[I64, int]:
    """Write match (query, row, distance) at row k of `out`, growing it when full; returns (out, k + 1)."""
    if k == out.shape[0]:
        out = grow(out)
    out[k, 0] = query
    out[k, 1] = row
    out[k, 2] = dist
    return out, k + 1


@njit(nogil=True, cache=True, inline="always")
def accept(
    row: int,
    dist: int,
    query_lq: bool,
    slots: npt.NDArray[np.uint16],
    flags: npt.NDArray[np.uint8],
    bank_thr: I64,
    bank_on: npt.NDArray[np.uint8],
    lq_thr: int,
) -> bool:
    """The match rule for one pair whose full distance is known: enabled entry, enabled bank, threshold."""
    f = flags[row]
    if (f & FLAG_ENABLED) == 0:
        return False
    s = slots[row]
    if bank_on[s] == 0:
        return False
    t = bank_thr[s]
    if ((f & FLAG_LOW_QUALITY) != 0 or query_lq) and lq_thr < t:
        t = lq_thr
    return bool(dist <= t)


@njit(nogil=True, cache=True)
def _verify(
    words: npt.NDArray[np.uint64], rule: Rule, cand_q: I64, cand_row: I64, nc: int, out: I64, k: int
) -> tuple[I64, int]:
    """Full distance and `accept` for candidates 0..nc; matches are appended to `out` from row k."""
    slots, flags, queries, qmax, qlq, bank_thr, bank_on, lq_thr = rule
    for c in range(nc):
        j = cand_q[c]
        r = cand_row[c]
        d = 0
        for w in range(4):
            d += popcount(words[w, r] ^ queries[j, w])
        if d <= qmax[j] and accept(r, d, qlq[j], slots, flags, bank_thr, bank_on, lq_thr):
            out, k = append(out, k, j, r, d)
    return out, k


@njit(nogil=True, cache=True)
def scan_batch(
    words: npt.NDArray[np.uint64],
    lo: int,
    hi: int,
    slots: npt.NDArray[np.uint16],
    flags: npt.NDArray[np.uint8],
    queries: npt.NDArray[np.uint64],
    qmax: I64,
    qlq: npt.NDArray[np.bool_],
    bank_thr: I64,
    bank_on: npt.NDArray[np.uint8],
    lq_thr: int,
) -> I64:
    """Rows [lo, hi) of one segment against every query; returns (n, 3) int64 rows (query, row, distance).

    `qmax[j]` is the loosest threshold query j can match at (over enabled banks); both filters use it.
    """
    out = np.empty((256, 3), dtype=np.int64)
    k = 0
    rule = (slots, flags, queries, qmax, qlq, bank_thr, bank_on, lq_thr)
    head_first = queries.shape[0] <= HEAD_FIRST_MAX_QUERIES
    mask = np.zeros(BATCH_BLOCK_ROWS, dtype=np.uint8)  # 1 where a row passed the head filter
    mask_words = mask.view(np.uint64)
    cap = VERIFY_BATCH + BATCH_BLOCK_ROWS  # one query's block always fits after a flush
    cand_q = np.empty(cap, dtype=np.int64)
    cand_row = np.empty(cap, dtype=np.int64)
    nc = 0
    tail2 = words[2]
    tail3 = words[3]
    for b0 in range(lo, hi, BATCH_BLOCK_ROWS):
        b1 = min(hi, b0 + BATCH_BLOCK_ROWS)
        nr = b1 - b0
        x0 = words[0, b0:b1]
        x1 = words[1, b0:b1]
        x2 = words[2, b0:b1]
        x3 = words[3, b0:b1]
        if nr < BATCH_BLOCK_ROWS:
            mask[nr:] = 0  # the last mask word must not keep bytes of an earlier block
        for j in range(queries.shape[0]):
            q0 = queries[j, 0]
            q1 = queries[j, 1]
            qm = qmax[j]
            hits = 0
            if head_first:
                for i in range(nr):
                    s = popcount(x0[i] ^ q0) + popcount(x1[i] ^ q1) <= qm
                    mask[i] = s
                    hits += s
            else:
                q2 = queries[j, 2]
                q3 = queries[j, 3]
                for i in range(nr):
                    hits += popcount((x0[i] ^ q0) | (x1[i] ^ q1) | (x2[i] ^ q2) | (x3[i] ^ q3)) <= qm
            if hits == 0:
                continue
            if nc + hits > cap:
                out, k = _verify(words, rule, cand_q, cand_row, nc, out, k)
                nc = 0
            if head_first:
                for w in range((nr + 7) >> 3):
                    m = mask_words[w]
                    while m != 0:
                        r = b0 + (w << 3) + (lowest_bit(m) >> 3)  # mask bytes are 0 or 1: bit 8*t marks row t
                        m &= m - np.uint64(1)
                        prefetch(tail2, r)
                        prefetch(tail3, r)
                        cand_q[nc] = j
                        cand_row[nc] = r
                        nc += 1
            else:
                for i in range(nr):
                    if popcount((x0[i] ^ q0) | (x1[i] ^ q1) | (x2[i] ^ q2) | (x3[i] ^ q3)) <= qm:
                        cand_q[nc] = j
                        cand_row[nc] = b0 + i
                        nc += 1
        if nc >= VERIFY_BATCH:
            out, k = _verify(words, rule, cand_q, cand_row, nc, out, k)
            nc = 0
    out, k = _verify(words, rule, cand_q, cand_row, nc, out, k)
    return out[:k]

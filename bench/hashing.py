"""PDQ hashing speed and accuracy against python-threatexchange, from JPEG bytes, one thread.

Run: `.venv/bin/python bench/hashing.py [--n N] [--repeat R]`. Generates N photo-like 1920x1080 JPEGs
(quality 90, fixed seeds), hashes each image with every hasher in turn, R passes (decode included; one
untimed warm-up call each), prints images/s, ratios to the peer and fast mode's distance to the peer, then
rewrites the "## Hashing (bench/hashing.py)" section of docs/performance.md.

Why interleaved and CPU time: development machines are shared; taking turns per image gives every hasher
the same conditions, and process CPU time (single-threaded code) is not inflated by waiting for a core.
Wall-clock figures are printed beside it.
"""

# ruff: noqa: E402 -- the thread limits must be in the environment before numpy and numba load

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # single-threaded, for both sides; set before numpy or numba load

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import PIL
from PIL import features
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes
from threatexchange.signal_type.pdq.signal import PdqSignal

from tutela.signals.pdq.fast import JPEG_MIN_REDUCED_SIDE, fast_hash
from tutela.testing.imagegen import encode, photo_like

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
HEADING = "## Hashing (bench/hashing.py)"
ABOUT = """\
Rows: *fast (media + hash_media)* is the product path (`tutela.media` limits, then fast mode);
*fast kernel* is `tutela.signals.pdq.fast.fast_hash` alone (luma-only reduced JPEG decode, no limits);
*at 1/8* is the same kernel at the faster scale, whose mean distance sits at the bound (2.10 on the first
20 of these images, 1.95 on the first 40), hence the 1/4 default; *reference* reproduces
Meta's `pdq-photo-hasher` (512x512 resize first: a different hash from the peer's); the *peer* is
python-threatexchange (Pillow full decode, then pdqhash's C++ at full resolution, as HMA does). Fast mode
decodes a 1080p JPEG at 1/4 scale in the DCT domain, so its time is mostly entropy decoding, which grows
with the file size."""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if "model name" in ln]
        cpu = names[0] if names else cpu
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, numpy {np.__version__}, "
        f"Pillow {PIL.__version__} (libjpeg-turbo {features.version('libjpeg_turbo')})"
    )


def hashers() -> tuple[dict[str, Callable[[bytes], object]], list[str]]:
    """Name -> hash-from-bytes callable; and notes on what could not be run."""
    found: dict[str, Callable[[bytes], object]] = {}
    notes = []
    try:
        from tutela.media import MediaLimits, open_media
        from tutela.settings import Settings
        from tutela.signals.pdq.hasher import hash_media
        from tutela.signals.pdq.signal import PdqMode

        limits = MediaLimits.from_settings(Settings())
        found["tutela fast (media + hash_media)"] = lambda d: hash_media(open_media(d, limits))
        found["tutela reference"] = lambda d: hash_media(open_media(d, limits), PdqMode.REFERENCE)
    except ImportError as exc:
        notes.append(f"tutela.media / hash_media not importable ({exc}): product path skipped")
    found["tutela fast kernel (fast_hash)"] = fast_hash
    found["tutela fast kernel at 1/8 (jpeg_min_side=128)"] = lambda d: fast_hash(d, 128)
    found["peer PdqSignal.hash_from_bytes"] = PdqSignal.hash_from_bytes
    return found, notes


def seconds_per_hasher(
    found: dict[str, Callable[[bytes], object]], data: list[bytes], repeat: int
) -> dict[str, tuple[float, float]]:
    """Name -> (CPU seconds, wall seconds) over `repeat` passes of all images, hashers taking turns."""
    totals = dict.fromkeys(found, (0.0, 0.0))
    for hasher in found.values():
        hasher(data[0])
    for _ in range(repeat):
        for item in data:
            for name, hasher in found.items():
                cpu, wall = time.process_time(), time.perf_counter()
                hasher(item)
                spent = (time.process_time() - cpu, time.perf_counter() - wall)
                totals[name] = (totals[name][0] + spent[0], totals[name][1] + spent[1])
    return totals


def distances(data: list[bytes], jpeg_min_side: int) -> list[int]:
    out = []
    for item in data:
        peer_hex, _ = pdq_from_bytes(item)
        ours, _ = fast_hash(item, jpeg_min_side)
        out.append(bin(int(peer_hex, 16) ^ int.from_bytes(ours, "big")).count("1"))
    return out


def distance_line(label: str, dist: list[int]) -> str:
    spread = ", ".join(f"{d}: {c}" for d, c in enumerate(np.bincount(dist)) if c)
    return f"- {label}: mean {np.mean(dist):.2f} bits, max {max(dist)}; images per distance {{{spread}}}"


def write_section(lines: list[str]) -> None:
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    section = HEADING + "\n\n" + "\n".join(lines) + "\n"
    if HEADING in text:
        before, rest = text.split(HEADING, 1)
        after = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of generated 1080p JPEGs")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over all images")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/performance.md")
    args = parser.parse_args()
    command = ".venv/bin/python bench/hashing.py " + " ".join(sys.argv[1:])
    out = [f"- command: `{command.strip()}`", f"- machine: {machine()}"]
    print(*out, sep="\n", flush=True)

    data = [encode(photo_like(seed)) for seed in range(args.n)]
    sizes = [len(d) / 1000 for d in data]
    out.append(
        f"- images: {args.n} photo-like 1920x1080 JPEGs, quality 90, {statistics.mean(sizes):.0f} kB mean "
        f"({min(sizes):.0f}-{max(sizes):.0f}); one thread; {args.repeat} interleaved passes; decode included"
    )
    print(out[-1], flush=True)

    found, notes = hashers()
    load_start = os.getloadavg()[0]
    totals = seconds_per_hasher(found, data, args.repeat)
    count = args.n * args.repeat
    peer_cpu = totals["peer PdqSignal.hash_from_bytes"][0]
    out += ["", "| hasher | images/s (CPU) | ms/image (CPU) | vs peer | images/s (wall) |"]
    out += ["|---|---|---|---|---|"]
    for name, (cpu, wall) in totals.items():
        row = f"| {name} | {count / cpu:.1f} | {1000 * cpu / count:.2f} | {peer_cpu / cpu:.1f}x "
        out.append(row + f"| {count / wall:.1f} |")
    out += ["", "Fast mode vs full-resolution pdqhash (bound: mean <= 2 bits, max <= 8):"]
    out.append(distance_line("default", distances(data, JPEG_MIN_REDUCED_SIDE)))
    out.append(distance_line("at 1/8 (jpeg_min_side=128)", distances(data, 128)))
    out += ["", ABOUT, ""]
    out.append(f"- load average (1 min) at start / end: {load_start:.1f} / {os.getloadavg()[0]:.1f}")
    out += [f"note: {n}" for n in notes]
    print(*out[3:], sep="\n")
    if not args.no_docs:
        write_section(out)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()

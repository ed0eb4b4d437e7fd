"""How close do the PDQ hashes of unrelated flat images come? Sets `pdq_low_quality_threshold`.

Generates benign flat and near-uniform images (solid colours, gentle gradients, solid + faint noise,
solid + a tiny mark; several sizes), encodes each base image several ways (PNG, JPEG at several qualities,
resized), hashes every encoding through `extract` in each PDQ mode and keeps those with quality below
`pdq_min_quality`. Two hashes are *related* when they come from the same base image (same generator and
parameters, differing only by encoding or size) and *unrelated* otherwise. The low-quality threshold must
stay below the smallest unrelated distance; the related distances show what a stricter threshold costs.

Run: `.venv/bin/python bench/low_quality.py [--mode fast] [--mode reference] [--margin 2]`
"""

from __future__ import annotations

import argparse
import io
import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from tutela.media import MediaLimits
from tutela.settings import Settings
from tutela.signals.extract import extract
from tutela.signals.pdq.signal import PdqMode

COLOURS = (
    (0, 0, 0),
    (255, 255, 255),
    (128, 128, 128),
    (40, 40, 40),
    (220, 220, 220),
    (200, 30, 40),
    (10, 200, 90),
    (30, 60, 210),
    (230, 190, 160),
    (250, 240, 80),
    (90, 20, 120),
    (0, 128, 128),
)
SIZES = ((64, 64), (160, 120), (300, 300), (640, 480), (480, 800), (1024, 768))
DIRECTIONS = tuple(range(0, 360, 45))
ENCODINGS = (("PNG", None), ("JPEG", 95), ("JPEG", 75), ("JPEG", 40))
TAIL = 40
QUALITY_FLOORS = (0, 1, 10, 20, 30)
EXAMPLES = 4
TRADE_OFF = (0, 8, 16, 31)


@dataclass(frozen=True)
class Base:
    """One generated image; its fields are the generator parameters that define relatedness."""

    kind: str
    colour: tuple[int, int, int]
    size: tuple[int, int]
    amount: float = 0.0
    direction: int = 0
    seed: int = 0

    def pixels(self) -> npt.NDArray[np.uint8]:
        width, height = self.size
        image = np.empty((height, width, 3), np.float64)
        image[:] = self.colour
        rng = np.random.default_rng(self.seed)
        if self.kind == "gradient":
            y, x = np.indices((height, width), dtype=np.float64)
            angle = np.deg2rad(self.direction)
            ramp = x / width * np.cos(angle) + y / height * np.sin(angle)
            image += (self.amount * (ramp - ramp.mean()))[..., None]
        elif self.kind == "noise":
            image += rng.normal(0.0, self.amount, image.shape)
        elif self.kind == "mark":
            side = max(2, int(min(width, height) * self.amount))
            top, left = rng.integers(0, height - side), rng.integers(0, width - side)
            image[top : top + side, left : left + side] = 255 - np.asarray(self.colour)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def bases() -> list[Base]:
    sizes = itertools.cycle(SIZES)
    out = [Base("solid", c, next(sizes)) for c in COLOURS]
    for i, (colour, direction) in enumerate(itertools.product(COLOURS[::2], DIRECTIONS[::2])):
        out.append(
            Base(
                "gradient",
                colour,
                next(sizes),
                amount=(4.0, 10.0, 20.0, 200.0)[(i + i // 4) % 4],
                direction=direction,
            )
        )
    for colour, sigma in itertools.product(COLOURS[::2], (1.0, 3.0)):
        out.append(Base("noise", colour, next(sizes), amount=sigma, seed=len(out)))
    for colour, side in itertools.product(COLOURS[1::2], (0.01, 0.04, 0.12)):
        out.append(Base("mark", colour, next(sizes), amount=side, seed=len(out)))
    return out


def encodings(base: Base) -> list[bytes]:
    """The base image as PNG and JPEG at several qualities, at its size and at half its size."""
    out = []
    full = Image.fromarray(base.pixels())
    half = full.resize((max(8, full.width // 2), max(8, full.height // 2)), Image.Resampling.LANCZOS)
    for image, (fmt, quality) in itertools.product((full, half), ENCODINGS):
        buffer = io.BytesIO()
        image.save(buffer, fmt, **({} if quality is None else {"quality": quality}))
        out.append(buffer.getvalue())
    return out


def distances(hashes: list[bytes]) -> npt.NDArray[np.int64]:
    """All pairwise Hamming distances as a square matrix."""
    bits = np.unpackbits(np.frombuffer(b"".join(hashes), np.uint8).reshape(len(hashes), 32), axis=1)
    ones = bits.astype(np.int64)
    counts = ones.sum(axis=1)
    matrix: npt.NDArray[np.int64] = counts[:, None] + counts[None, :] - 2 * (ones @ ones.T)
    return matrix


def report(
    mode: PdqMode, all_bases: list[Base], limits: MediaLimits, min_quality: int, margin: int
) -> int | None:
    hashes: list[bytes] = []
    owners: list[int] = []
    qualities: list[int] = []
    kept_q: list[int] = []
    for index, base in enumerate(all_bases):
        for data in encodings(base):
            result = extract(data, limits, pdq_mode=mode).pdq
            assert result is not None
            qualities.append(result.quality)
            if result.quality < min_quality:
                hashes.append(result.hash)
                owners.append(index)
                kept_q.append(result.quality)
    print(f"\n== mode {mode.value}: {len(qualities)} encodings of {len(all_bases)} base images")
    print(f"quality < {min_quality}: {len(hashes)}; quality histogram (tens): {_tens(qualities)}")
    matrix = distances(hashes)
    upper = np.triu_indices(len(hashes), k=1)
    owner = np.asarray(owners)
    related = owner[upper[0]] == owner[upper[1]]
    unrelated_d, related_d = matrix[upper][~related], matrix[upper][related]
    print(f"distinct hashes: {len(set(hashes))}; all-zero hashes: {sum(h == bytes(32) for h in hashes)}")
    low = int(unrelated_d.min())
    print(
        f"unrelated pairs: {unrelated_d.size}; minimum distance {low}; median {int(np.median(unrelated_d))}"
    )
    counts = Counter(int(d) for d in unrelated_d if d <= TAIL)
    print(f"low tail (distance: unrelated pairs, up to {TAIL}):", {d: counts[d] for d in sorted(counts)})
    _closest_kinds(matrix, upper, related, owner, all_bases, low)
    floor = np.minimum(np.asarray(kept_q)[upper[0]], np.asarray(kept_q)[upper[1]])
    for band in QUALITY_FLOORS:
        u, r = unrelated_d[floor[~related] >= band], related_d[floor[related] >= band]
        if u.size:
            print(
                f"  both quality >= {band:2}: {u.size} unrelated pairs, minimum {int(u.min())}; "
                f"{r.size} related pairs, median {int(np.median(r)) if r.size else '-'}"
            )
    q = np.percentile(related_d, [0, 50, 90, 99, 100]).astype(int)
    print(f"related pairs: {related_d.size}; distance min/median/p90/p99/max = {'/'.join(map(str, q))}")
    for t in TRADE_OFF:
        print(
            f"  at threshold {t:2}: {int(np.sum(unrelated_d <= t))} unrelated pairs match, "
            f"{float(np.mean(related_d <= t)):.1%} of related pairs match"
        )
    recommended = low - margin
    if recommended < 0:
        print(f"recommended low-quality threshold: none is safe (minimum unrelated {low}, margin {margin})")
        return None
    kept = float(np.mean(related_d <= recommended))
    print(f"recommended low-quality threshold: {recommended} (minimum unrelated {low} - margin {margin}); ")
    print(f"  at that threshold {kept:.1%} of related pairs still match")
    return recommended


def _closest_kinds(
    matrix: npt.NDArray[np.int64],
    upper: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]],
    related: npt.NDArray[np.bool_],
    owner: npt.NDArray[np.int64],
    all_bases: list[Base],
    low: int,
) -> None:
    """Which kinds of image make the closest unrelated pairs, with examples of different colours."""
    pairs: Counter[tuple[str, ...]] = Counter()
    examples: set[tuple[Base, Base]] = set()
    for i, j in zip(upper[0][~related], upper[1][~related], strict=True):
        if matrix[i, j] <= low + 2:
            a, b = all_bases[owner[i]], all_bases[owner[j]]
            pairs[tuple(sorted((a.kind, b.kind)))] += 1
            if a.colour != b.colour:
                examples.add((a, b))
    print(f"  kinds of unrelated pairs within {low + 2}:", dict(pairs.most_common()))
    for a, b in sorted(examples, key=lambda p: (p[0].kind != "solid", p[1].kind != "solid", str(p)))[
        :EXAMPLES
    ]:
        print(f"    e.g. {_describe(a)}  ~  {_describe(b)}")


def _describe(base: Base) -> str:
    extra = {
        "gradient": f" {base.amount:g} levels at {base.direction} deg",
        "noise": f" sigma {base.amount:g}",
    }
    mark = f" mark {base.amount:.0%}" if base.kind == "mark" else ""
    return f"{base.kind} rgb{base.colour} {base.size[0]}x{base.size[1]}{extra.get(base.kind, '')}{mark}"


def _tens(values: list[int]) -> dict[int, int]:
    counts = Counter(min(v // 10 * 10, 90) for v in values)
    return {k: counts[k] for k in sorted(counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", action="append", type=PdqMode, help="PDQ mode (repeatable); default: both")
    parser.add_argument(
        "--margin", type=int, default=2, help="bits kept below the minimum unrelated distance"
    )
    args = parser.parse_args()
    settings = Settings()
    limits = MediaLimits.from_settings(settings)
    all_bases = bases()
    results = {
        mode: report(mode, all_bases, limits, settings.pdq_min_quality, args.margin)
        for mode in args.mode or list(PdqMode)
    }
    safe = [r for r in results.values() if r is not None]
    if len(safe) < len(results):
        print(
            "\nconclusion: no threshold keeps unrelated low-quality hashes apart (some collide exactly);"
            "\nlow-quality hashes should not match perceptually at all, only through exact digests"
        )
    else:
        print(f"\nconclusion: pdq_low_quality_threshold = {min(safe)} (the smaller over modes)")


if __name__ == "__main__":
    main()

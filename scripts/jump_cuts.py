"""Does the network's own flow misfit tell a jump cut inside one static shot from real motion?

The scene-change measure (vsvfi.motion) misses bigbuckbunny's jump cuts (frames 60 apart: the
same background, the bunny elsewhere), since most of the picture is found again
(docs/scene-change.md). A second opinion tried here: rife46 run on small RGB thumbnails
(``--width`` pixels wide, scale 1, t = 0.5; about 2 % of a 1080p run at 256) and its
``disagreement`` output (per 8x8 block, 4 m (1 - m) |warp0 - warp1|, the misfit that
``scale="auto"`` weighs). For every pair of the cut family and of the families that must not be
called cuts, and for pairs of the sample clips 1, 2 and 4 frames apart that the detector does
not call cuts (every 3rd start, first 300 frames), it reports per group the range of the
block mean and of the share of blocks above 0.04. A second opinion is usable only if every
jump cut lies above every real non-cut.

With ``--blocks``, instead: the detector's own block matching (``vsvfi.motion.block_scores``,
on the luma thumbnails it reads): per pair, the share of the counted blocks matched with NCC
below :data:`POOR` at their vectors, and the largest 8-connected group of them as a share of
the counted blocks, each the smaller of the two ways (a jump cut leaves the bunny's two
places unexplained both ways). Is the place the bunny left a region that no motion explains,
unlike anything real motion leaves?

    .venv/bin/python scripts/jump_cuts.py [--width 256]
    .venv/bin/python scripts/jump_cuts.py --blocks

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import vapoursynth as vs
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_pairs import misfit_blocks  # noqa: E402
from vsvfi import assets, families, motion, scenes  # noqa: E402
from vsvfi.colour import default_matrix_name  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402
from vsvfi.runtime import get_engine  # noqa: E402

core = vs.core
FAMILIES = ("cut", "fade", "pan", "zoom", "shake", "flash", "object", "large-motion")
#: Block disagreement (RGB 0..1) counted as a failed match.
HIGH = 0.04
#: ``--blocks``: a block matched with NCC below this at its vector counts as unexplained.
POOR = 0.5


def _thumbnails(clip: vs.VideoNode, width: int) -> vs.VideoNode:
    """RGBS thumbnails ``width`` pixels wide (cubic B-spline, as vsvfi.scenes.thumbnails)."""
    if clip.format.color_family != vs.RGB:
        clip = core.resize.Bicubic(clip, format=vs.RGB24, matrix_in_s=default_matrix_name(clip.width, clip.height))
    w = min(clip.width, width)
    h = max(2, round(clip.height * w / clip.width / 2) * 2)
    return core.resize.Bicubic(clip, w, h, format=vs.RGBS, filter_param_a=1, filter_param_b=0)


def blocks(engine, small: vs.VideoNode, i: int, j: int) -> np.ndarray:
    """The disagreement blocks (float64 (H/8, W/8)) of the network on thumbnails i and j."""
    a, b = (frame_array(small.get_frame(k)).astype(np.float32) for k in (i, j))
    return misfit_blocks(engine, engine.prepare(a, b, 1.0), 0.5, 1.0)


def _pairs():
    """(group, clip, i, j) for every pair read: the families' cases (frames 0 and the last)
    and the sample clips' pairs 1, 2 and 4 frames apart that the detector does not call
    cuts."""
    for family in FAMILIES:
        for case in families.cases(family):
            yield "jump cut in one shot" if "jump cut" in case.name else family, case.clip, 0, case.clip.num_frames - 1
    for stem in assets.SAMPLES:
        src = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem])))
        luma = scenes.thumbnails(src)
        for k in (1, 2, 4):
            for j in range(0, min(src.num_frames, 300) - k, 3):
                c = motion.compare_both(np.asarray(luma.get_frame(j)[0]), np.asarray(luma.get_frame(j + k)[0]))
                if c.difference <= scenes.SC_THRESHOLD:
                    yield f"{stem}, {k} apart", src, j, j + k


def measure(width: int) -> dict[str, list[np.ndarray]]:
    engine = get_engine("rife46", "cpu")
    groups: dict[str, list[np.ndarray]] = {}
    for group, clip, i, j in _pairs():
        groups.setdefault(group, []).append(blocks(engine, _thumbnails(clip, width), i, j))
    return groups


def unexplained(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(share of the counted blocks below :data:`POOR`, largest 8-connected group of them as
    a share of the counted blocks) of ``a`` matched in ``b``, the smaller of both ways."""
    shares, groups = [], []
    for x, y in ((a, b), (b, a)):
        found = motion.block_scores(x, y)
        if found is None:
            return 0.0, 0.0
        ncc, _, counted = found
        poor = counted & (ncc < POOR)
        parts, n = ndimage.label(poor, structure=np.ones((3, 3), bool))
        largest = np.bincount(parts.ravel())[1:].max() if n else 0
        shares.append(poor.sum() / max(counted.sum(), 1))
        groups.append(largest / max(counted.sum(), 1))
    return min(shares), min(groups)


def blocks_markdown() -> str:
    found: dict[str, list[tuple[float, float]]] = {}
    for group, clip, i, j in _pairs():
        luma = scenes.thumbnails(clip)  # what the detector reads
        found.setdefault(group, []).append(unexplained(*(np.asarray(luma.get_frame(k)[0]) for k in (i, j))))
    lines = [f"| pairs (luma thumbnails, as the detector reads them) | n | blocks below NCC {POOR}, both ways "
             "| largest group of them | 95th percentile of the share |", "|---|---|---|---|---|"]
    for group, v in found.items():
        v = np.array(v)
        lines.append(f"| {group} | {len(v)} | {v[:, 0].min():.0%} to {v[:, 0].max():.0%} | "
                     f"{v[:, 1].min():.0%} to {v[:, 1].max():.0%} | {np.percentile(v[:, 0], 95):.0%} |")
    return "\n".join(lines)


def markdown(groups: dict[str, list[np.ndarray]], width: int) -> str:
    lines = [f"| pairs (thumbnails {width} px wide) | n | block mean | share of blocks above {HIGH} |",
             "|---|---|---|---|"]
    for group, maps in groups.items():
        mean = [m.mean() for m in maps]
        high = [(m > HIGH).mean() for m in maps]
        lines.append(f"| {group} | {len(maps)} | {min(mean):.3f} to {max(mean):.3f} | "
                     f"{min(high):.0%} to {max(high):.0%} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--blocks", action="store_true", help="the detector's own block matching instead")
    args = ap.parse_args()
    print(blocks_markdown() if args.blocks else markdown(measure(args.width), args.width))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

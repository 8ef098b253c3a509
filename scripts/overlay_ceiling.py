"""How far per-pixel choices can take overlay protection: for every uncompressed case of the overlay
family (vsvfi.families), PSNR inside the overlay boxes of

- ``blend``: the average of the two source frames;
- ``default``: Interpolate(ratio=2) with its defaults (protection on);
- ``oracle``: per pixel, whichever of the blend, the network on the painted frames (what
  the filter runs: vsvfi.overlay_motion.paint) and the network on the frames as they are is closest to the true
  middle frame: the best that any per-pixel mix of those three can do;
- ``4x4`` and ``8x8``: the same choice made once per square tile of that size (the sum of
  squared errors over the tile). The per-pixel oracle also profits from the noise of each
  output (of two guesses about equally wrong, it takes whichever happens to be nearer
  pixel by pixel), so it is an optimistic ceiling; the tile columns show how fast it falls
  when the choice cannot follow every pixel. They are no ceiling for a mask that follows
  letter edges pixel by pixel: on opaque text the defaults beat the 4x4 oracle.

A last table says where the defaults' error lies: by distance from the filter's overlay
mask, inside the boxes of all these cases.

Where ``oracle`` stays below blend + 2 dB, no mask or weighting of those outputs reaches
issue 12's goal for that case; it takes a different model of the overlay (its colour and
opacity separated from the moving background).

    .venv/bin/python scripts/overlay_ceiling.py [--out docs/overlay-ceiling.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from hard_scenes import psnr, render, to_u8  # noqa: E402
from vsvfi import families, protect  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402
from vsvfi.overlay_motion import paint  # noqa: E402
from vsvfi.runtime import get_engine  # noqa: E402


#: Bands of distance (pixels, chessboard) from the filter's overlay mask, inclusive.
BANDS = ((0, 0), (1, 2), (3, 4), (5, 8), (9, 16), (17, None))


def measure() -> tuple[list[tuple], np.ndarray]:
    """Per moving overlay case: (case, blend, default, and the oracle per tile of
    :data:`TILES`) PSNR dB inside the boxes; and over all of them, per band of
    :data:`BANDS` inside the boxes, (pixels, squared error of the blend, of the defaults)."""
    engine = get_engine("rife46", "cpu")
    rows = []
    bands = np.zeros((len(BANDS), 3))
    for case in families.cases("overlay"):
        if "x264" in case.name:
            continue  # the uncompressed cases (docs/protection.md, "Encoded frames", has the others)
        a, mid, b = (frame_array(case.clip.get_frame(k)) for k in range(3))
        if np.array_equal(a, b):
            continue  # a static background: the blend is exact
        x0, x1 = a.astype(np.float32) / 255, b.astype(np.float32) / 255
        m = protect.masks_and_motion(x0, x1)
        overlay, shifts = m.overlay, m.shifts
        r = protect.DEFAULT.radius
        painted = engine(paint(x0, x1, overlay, shifts, r), paint(x1, x0, overlay, shifts, r), 0.5)
        raw = engine(x0, x1, 0.5)
        blend = (x0 + x1) / 2
        truth = mid.astype(np.float32) / 255
        outs = np.stack([blend, painted, raw])
        err = ((outs - truth) ** 2).sum(axis=1)
        default = render(a, b)[0]
        rows.append((case.name, psnr(to_u8(blend), mid, case.mask), psnr(default, mid, case.mask),
                     *(psnr(to_u8(_chosen(outs, err, tile)), mid, case.mask) for tile in TILES)))
        far = ndimage.distance_transform_cdt(overlay <= 0.5, metric="chessboard")
        own = ((default.astype(np.float64) - mid) ** 2).sum(axis=0)
        for k, (lo, hi) in enumerate(BANDS):
            sel = case.mask & (far >= lo) & (far <= (hi if hi is not None else far.max()))
            bands[k] += (sel.sum(), err[0][sel].sum() * 255.0 ** 2, own[sel].sum())
    return rows, bands


#: Sides (pixels) of the square tiles the oracle chooses on: per pixel, 4x4, 8x8.
TILES = (1, 4, 8)


def _chosen(outs: np.ndarray, err: np.ndarray, tile: int) -> np.ndarray:
    """Per ``tile``-pixel square, the one of ``outs`` (k, 3, H, W) with the least squared
    error (``err`` (k, H, W)) summed over the square."""
    k, h, w = err.shape
    th, tw = -(-h // tile), -(-w // tile)
    padded = np.zeros((k, th * tile, tw * tile))
    padded[:, :h, :w] = err
    pick = padded.reshape(k, th, tile, tw, tile).sum(axis=(2, 4)).argmin(axis=0)
    pick = np.repeat(np.repeat(pick, tile, axis=0), tile, axis=1)[:h, :w]
    return np.take_along_axis(outs, pick[None, None], axis=0)[0]


def markdown(rows, bands: np.ndarray) -> str:
    met = sum(d >= bl + 2 for _, bl, d, *_ in rows)
    reach = [sum(r[3 + k] >= r[1] + 2 for r in rows) for k in range(len(TILES))]
    lines = ["# Overlay protection: what per-pixel choices can reach", "",
             "Produced by `python scripts/overlay_ceiling.py` (see its docstring). PSNR dB (RGB 0-255) inside "
             "the overlay boxes of every moving uncompressed case of the overlay family (the static backgrounds are "
             "left out: the blend is exact there).", "",
             f"- the defaults reach blend + 2 dB on {met} of {len(rows)} cases;",
             f"- an oracle choosing among the blend and the network's two frames per pixel on {reach[0]} of "
             f"{len(rows)}, per 4x4 tile on {reach[1]}, per 8x8 tile on {reach[2]}. The per-pixel oracle "
             "also profits from each output's noise, so it is optimistic; the tile columns show how fast it "
             "falls when the choice cannot follow every pixel (see the script's docstring).", "",
             "| case | blend | default | oracle | 4x4 | 8x8 | oracle - blend |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {n} | {bl:.1f} | {d:.1f} | {o:.1f} | {o4:.1f} | {o8:.1f} | {o - bl:+.1f} |"
              for n, bl, d, o, o4, o8 in rows]
    means = [np.mean([r[k] for r in rows]) for k in range(1, 6)]
    lines.append("| **mean** | " + " | ".join(f"**{m:.2f}**" for m in means) + f" | {means[2] - means[0]:+.2f} |")
    lines += ["", "Where the error is: inside the boxes of all these cases, by distance (pixels) from the filter's "
              "overlay mask (0: on it), the share of the pixels and of the defaults' squared error, and the mean "
              "squared error (RGB 0-255, summed over the channels) of the blend and of the defaults:", "",
              "| distance | pixels | share of the defaults' error | blend | defaults |", "|---|---|---|---|---|"]
    for (lo, hi), (n, eb, ed) in zip(BANDS, bands):
        label = f"{lo}" if lo == hi else f"{lo}-{hi}" if hi is not None else f"{lo}+"
        lines.append(f"| {label} | {n / bands[:, 0].sum():.0%} | {ed / bands[:, 2].sum():.0%} | {eb / n:.0f} | "
                     f"{ed / n:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/overlay-ceiling.md")
    args = p.parse_args()
    Path(args.out).write_text(markdown(*measure()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

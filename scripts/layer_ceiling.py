"""What separating the overlay from the background as a layer reaches, against what masks
and blends reach: for every overlay set of vsvfi.families over each background that moves
by one whole-pixel shift (the pans and the shake; not the zoom, not the static background),
PSNR dB inside and outside the overlay boxes of

- ``blend``: the average of the two source frames;
- ``no layers``: Interpolate(ratio=2) with its defaults but without the separation of
  semi-transparent overlays (vsvfi.translucent switched off: the protection of 2026-11-29);
- ``default``: Interpolate(ratio=2) with its defaults;
- ``layer, true mask``: the separation of vsvfi.translucent (k per connected part from the
  runs along the shift, the backgrounds by least squares, the filter on them, the layer put
  back over its frame) given which pixels the overlays cover (alpha > 0 on either frame)
  instead of finding them: what a perfect mask would add;
- ``composite``: the filter on the true backgrounds (the frames without overlays) with the
  overlays composited back over its frame, as the mean of their two source-frame versions
  (a changing timecode digit stays a mix of both): the best any separation can do with this
  network.

Then, on the sample clips, how much of a pair of consecutive frames the best whole-pixel
shift explains (the model's precondition) and how much quarter-pixel shifts would
(:func:`real_shares`).

docs/protection.md, "Semi-transparent overlays as layers", discusses the results.

    .venv/bin/python scripts/layer_ceiling.py [--out docs/layer-ceiling.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from unittest import mock

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from hard_scenes import psnr, render, to_u8  # noqa: E402
from vsvfi import families_overlay, translucent  # noqa: E402
from vsvfi.colour import default_matrix_name  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402

KEYS = ("blend", "no layers", "default", "layer, true mask", "composite")


def true_layer(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The middle frame (float (3, H, W), 0..1) of vsvfi.translucent's model on ``mask``."""
    _, v = translucent.dominant_shift(a, b)
    labels, n = ndimage.label(mask, np.ones((3, 3), bool))
    k, _, _ = translucent.opacities(a, b, labels, n, v)
    kmap = np.where(mask, np.clip(np.nan_to_num(k, nan=0.5), 0.02, 1)[labels], 1.0)
    b0, b1 = translucent.backgrounds(a, b, mask, kmap, v)
    ys, xs = np.nonzero(mask)
    k = kmap[ys, xs].astype(np.float32)
    layer = translucent.TranslucentLayer(ys, xs, (a[:, ys, xs] - k * b0[:, ys, xs]).astype(np.float32), k, v, (b0, b1))
    return translucent.composite(render(to_u8(b0), to_u8(b1))[0].astype(np.float32) / 255, layer)


def case_rows() -> list[tuple[str, dict]]:
    w, h = 640, 360
    cases = {c.name: c for c in families_overlay.overlay_cases(False)}
    rows = []
    for name, elements in families_overlay._overlay_sets(w, h).items():
        colour, alpha, _ = families_overlay.flatten(elements, w, h)
        for label, bg, _ in families_overlay._backgrounds(w, h):
            if label.startswith(("zoom", "static")):
                continue
            case = cases[f"overlay {name} over {label} w{w}"]
            a8, mid, b8 = (frame_array(case.clip.get_frame(n)) for n in range(3))
            a, b = a8.astype(np.float32) / 255, b8.astype(np.float32) / 255
            g0, g1 = (frame_array(bg.get_frame(n)) for n in (0, 2))
            coverage = (alpha[0, 0].astype(np.float32) + alpha[2, 0]) / 510
            over = (colour[0] * (alpha[0] / 255.0) + colour[2] * (alpha[2] / 255.0)) / 510
            with mock.patch("vsvfi.filter.find_translucent", lambda *args: None):
                before = render(a8, b8)[0].astype(np.float32) / 255
            outs = {"blend": (a + b) / 2, "no layers": before,
                    "default": render(a8, b8)[0].astype(np.float32) / 255,
                    "layer, true mask": true_layer(a, b, (alpha[0, 0] > 0) | (alpha[2, 0] > 0)),
                    "composite": over + (1 - coverage) * render(g0, g1)[0].astype(np.float32) / 255}
            rows.append((case.name, {key: (psnr(to_u8(o), mid, case.mask), psnr(to_u8(o), mid, ~case.mask))
                                     for key, o in outs.items()}))
            print(case.name, {key: f"{x[0]:.1f}/{x[1]:.1f}" for key, x in rows[-1][1].items()}, flush=True)
    return rows


def _share(a: np.ndarray, b: np.ndarray, dy: float, dx: float) -> float:
    """Share of a :data:`vsvfi.translucent.GRID` grid of frame 0 (float (3, H, W)) that frame
    1 at x + (dy, dx) (bilinear) matches within :data:`vsvfi.translucent.EXPLAINED`."""
    h, w = a.shape[1:]
    g = translucent.GRID
    ys, xs = (x.ravel() for x in np.mgrid[g // 2:h:g, g // 2:w:g])
    ty, tx = ys + dy, xs + dx
    ok = (ty >= 0) & (ty <= h - 1) & (tx >= 0) & (tx <= w - 1)
    got = np.stack([ndimage.map_coordinates(b[c], [ty[ok], tx[ok]], order=1) for c in range(3)])
    return float((np.abs(a[:, ys[ok], xs[ok]] - got).max(axis=0) <= translucent.EXPLAINED).mean())


def real_shares(frames: int = 120, every: int = 3) -> list[tuple[str, int, list[float], list[float]]]:
    """Per sample clip, over the pairs (j, j + 1) for every ``every``-th j below ``frames``:
    the share of the frame that the best whole-pixel shift explains
    (:func:`vsvfi.translucent.dominant_shift`) and the best of it and the quarter-pixel shifts
    around it (up to 0.75 px off, bilinear): whether a sub-pixel form of the model would
    apply to real footage."""
    import vapoursynth as vs

    from vsvfi import assets

    out = []
    for stem in assets.SAMPLES:
        src = vs.core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem])))
        rgb = vs.core.resize.Bicubic(src, format=vs.RGBS, matrix_in_s=default_matrix_name(src.width, src.height))
        whole, sub = [], []
        for j in range(0, min(frames, src.num_frames - 1), every):
            a, b = (frame_array(rgb.get_frame(i)) for i in (j, j + 1))
            share, (dy, dx) = translucent.dominant_shift(a, b)
            fine = np.arange(-0.75, 0.76, 0.25)
            whole.append(share)
            sub.append(max(share, *(_share(a, b, dy + fy, dx + fx) for fy in fine for fx in fine if fy or fx)))
        out.append((stem, len(whole), whole, sub))
        print(stem, f"whole {max(whole):.2f}, sub-pixel {max(sub):.2f}", flush=True)
    return out


def markdown(rows: list[tuple[str, dict]], real: list | None = None) -> str:
    translucent_sets = ("patch logos", "text logos", "broadcast")

    def met(key, sel):
        return sum(r[key][0] >= r["blend"][0] + 2 for n, r in rows if sel(n))

    lines = ["# Overlays as layers: what separating them from the background reaches", "",
             "Produced by `python scripts/layer_ceiling.py` (see its docstring for each column). PSNR dB (RGB 0-255) "
             "inside / outside the overlay boxes of every overlay set over the backgrounds that move by one "
             "whole-pixel shift (the pans and the shake).", "",
             "| at blend + 2 dB inside the boxes | " + " | ".join(KEYS[1:]) + " |", "|---|---|---|---|---|"]
    for label, sel in (("every set", lambda n: True),
                       ("semi-transparent sets (patch logos, text logos, broadcast)",
                        lambda n: any(t in n for t in translucent_sets))):
        count = sum(1 for n, _ in rows if sel(n))
        lines.append(f"| {label} ({count} cases) | " + " | ".join(str(met(k, sel)) for k in KEYS[1:]) + " |")
    worst = {k: min(r[k][1] - r["no layers"][1] for _, r in rows) for k in KEYS[2:]}
    lines += ["", "Outside the boxes, the worst case against `no layers`: "
              + ", ".join(f"{k} {v:+.2f} dB" for k, v in worst.items()) + ".", "",
              "| case | " + " | ".join(KEYS) + " |", "|---|" + "---|" * len(KEYS)]
    for name, r in rows:
        lines.append(f"| {name} | " + " | ".join(f"{r[k][0]:.1f} / {r[k][1]:.1f}" for k in KEYS) + " |")
    means = [(np.mean([r[k][0] for _, r in rows]), np.mean([r[k][1] for _, r in rows])) for k in KEYS]
    lines.append("| **mean** | " + " | ".join(f"**{i:.2f}** / {o:.2f}" for i, o in means) + " |")
    if real:
        lines += ["", "## Real footage: how much of a pair one shift explains", "",
                  "The separation runs only where one whole-pixel shift explains "
                  f"{translucent.SHARE:.0%} of the frame (`vsvfi.translucent.SHARE`). On the sample clips (pairs of "
                  "consecutive frames, every 3rd of the first 120), the share the best whole-pixel shift explains, "
                  "and the best of it and the quarter-pixel shifts around it (bilinear, up to 0.75 px off): "
                  "whether a sub-pixel form of the model would apply to real footage.", "",
                  "| clip | pairs | whole pixels: median / max | quarter pixels: median / max |", "|---|---|---|---|"]
        for stem, n, whole, sub in real:
            lines.append(f"| {stem} | {n} | {np.median(whole):.2f} / {max(whole):.2f} | "
                         f"{np.median(sub):.2f} / {max(sub):.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/layer-ceiling.md")
    args = p.parse_args()
    Path(args.out).write_text(markdown(case_rows(), real_shares()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The zoom route of the gate of the seeds through codec noise, and its variants (docs/protection.md,
"A zoom for the codec gate").

The seeds that find static text through a codec's noise are read where one shift carries most
of the pair's moving pixels (``vsvfi.encoded.dominant_share``), or, since this change, where
one zoom and pan does while most of the picture moves (``vsvfi.encoded.zoom_gate``), the seeds
then reading only edges that barely differ (``encoded.ZOOM_RELATIVE``). Each variant below is
the filter's defaults with that route changed in one process:

- ``before``: no zoom route (the code before this change);
- ``now``: the defaults;
- ``relative 0.08-0.15``, ``relative 0.15-0.3``: the zoom route with a looser test of the edges
  (0.15-0.3 is the one the shift route uses);
- ``share alone``: the zoom route gated on the zoom's share alone (no ceiling on the share of
  textured pixels that stay put, no smallest span of the zoom);
- ``gate open``: the shift route's seeds on every pair (what a gate always open would do);
- ``full-size share``: the zoom's share read on the frames at their own size, not averaged
  to about 640 px wide (``encoded.SHARE_WIDTH``; the code before 2026-11-30, Session T).

It reports, per variant:

1. the overlay cases over a zoom (the overlay family's and the held-out ones, clean and through
   x264): inside the overlays' boxes, PSNR dB against the true middle frame, with a blend's;
   and the zoom share, the still share and the gate per case;
2. every pair (j, j + 2) of the three sample clips (RGB24 through zimg): how many pairs pass
   the zoom gate, how many pairs' codec seeds the variant changes against ``before``, the
   mean change of PSNR against frame j + 1 over all the pairs and the worst pair;
3. the overlay family's zooms resized (bicubic) to 1280x720 and 1920x1080: the zoom share at
   full size and averaged, the gate with ``full-size share`` and now, and PSNR inside the
   boxes for a blend, ``full-size share`` and now; and how many of the families' cases 1280 px
   wide and up (pans, large motion, cuts) pass the zoom gate either way;
4. the sample clips resized to 1920 px wide: how many pairs pass the zoom gate and get codec
   seeds, with ``full-size share`` and now.

    python scripts/zoom_gate.py [--out FILE] [--variants NAME ...]

About 15 minutes on the CPU provider (all variants).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import sys
from pathlib import Path

import numpy as np
import vapoursynth as vs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import heldout_overlays  # noqa: E402
from hard_scenes import psnr, render  # noqa: E402
from vsvfi import assets, encoded, families, protect  # noqa: E402
from vsvfi.colour import default_matrix_name  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402
from vsvfi.neighbourhood import range3, smoothstep  # noqa: E402

core = vs.core


@contextlib.contextmanager
def variant(name: str):
    """The filter's protection as variant ``name`` while inside."""
    saved = protect.zoom_gate, protect.ZOOM_RELATIVE, protect.dominant_share
    share, relative, width = encoded.zoom_share, None, encoded.SHARE_WIDTH
    if name == "before":
        protect.zoom_gate = lambda *args: 0.0
    elif name.startswith("relative "):
        relative = tuple(float(x) for x in name.split()[1].split("-"))
        protect.ZOOM_RELATIVE = relative
    elif name == "share alone":
        def gate(img0, img1, spread, moving=None):
            return float(smoothstep(np.float32(share(img0, img1, spread, moving)), *encoded.ZOOM))
        protect.zoom_gate = gate
    elif name == "gate open":
        protect.dominant_share = lambda *args, **kw: 1.0
    elif name == "full-size share":
        encoded.SHARE_WIDTH = 1 << 30
    elif name != "now":
        raise SystemExit(f"unknown variant {name!r}")
    try:
        yield
    finally:
        protect.zoom_gate, protect.ZOOM_RELATIVE, protect.dominant_share = saved
        encoded.SHARE_WIDTH = width


VARIANTS = ("before", "now", "relative 0.08-0.15", "relative 0.15-0.3", "share alone", "gate open", "full-size share")


def _f32(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / 255


def gate_parts(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(zoom share, still share, gate) of a pair of RGB24 frames."""
    x0, x1 = _f32(a), _f32(b)
    spread = range3(x0)
    moving = encoded.moving_pixels(x0, x1, spread)
    still = moving[5] if moving else 1.0
    return encoded.zoom_share(x0, x1, spread), still, encoded.zoom_gate(x0, x1, spread)


def overlay_cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    cases = [(c.name.removeprefix("overlay "), *(frame_array(c.clip.get_frame(k)) for k in range(3)), c.mask)
             for c in families.cases("overlay") if " zoom " in c.name]
    cases += [(f"{s} over {label} (held out{', x264' if coded else ''})", a, mid, b, mask)
              for s, kind, label, a, mid, b, mask, coded in heldout_overlays.cases() if kind == "zoom"]
    return cases


def overlay_table(names: list[str]) -> list[str]:
    head = "| case | zoom share | still share | gate | blend | " + " | ".join(names) + " |"
    out = [head, "|---" * (5 + len(names)) + "|"]
    sums = np.zeros(len(names) + 1)
    coded = np.zeros(len(names) + 1)
    cases = overlay_cases()
    for name, a, mid, b, mask in cases:
        blend = psnr(((a.astype(np.uint16) + b + 1) // 2).astype(np.uint8), mid, mask)
        cells = []
        for v in names:
            with variant(v):
                cells.append(psnr(render(a, b)[0], mid, mask))
        row = np.array([blend, *cells])
        sums += row
        coded += row * ("x264" in name)
        z, still, gate = gate_parts(a, b)
        out.append(f"| {name} | {z:.2f} | {still:.3f} | {gate:.2f} | " + " | ".join(f"{c:.2f}" for c in row) + " |")
    n_coded = sum("x264" in c[0] for c in cases)
    out.append("| **mean, all** | | | | " + " | ".join(f"**{c / len(cases):.2f}**" for c in sums) + " |")
    out.append("| **mean, x264** | | | | " + " | ".join(f"**{c / n_coded:.2f}**" for c in coded) + " |")
    return out


def _codec_seeds(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """The seeds the codec route adds on a pair of RGB24 frames, as the filter finds them."""
    x0, x1 = _f32(a), _f32(b)
    _, seed, exact, spread = protect._static_masks(x0, x1, protect.DEFAULT)
    return protect._gated_seeds(x0, x1, seed, exact, spread, protect.motion_shifts(x0, x1), protect.DEFAULT)[0]


def sample_table(names: list[str]) -> list[str]:
    """Per clip and variant, the change against ``before``; a pair is rendered only where the
    variant's codec seeds differ from ``before``'s (elsewhere its output is the same)."""
    out = ["| clip | pairs (j, j + 2) | pairs with a zoom gate | variant | pairs whose seeds change | mean change, dB "
           "| worst pair |", "|---|---|---|---|---|---|---|"]
    for stem in assets.SAMPLES:
        src = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem])))
        rgb = core.resize.Bicubic(src, format=vs.RGB24, matrix_in_s=default_matrix_name(src.width, src.height))
        frames = [frame_array(rgb.get_frame(i)) for i in range(src.num_frames)]
        pairs = list(range(0, len(frames) - 2, 2))
        gated = sum(gate_parts(frames[j], frames[j + 2])[2] > 0 for j in pairs)
        with variant("before"):
            base = [_codec_seeds(frames[j], frames[j + 2]) for j in pairs]
        for v in names:
            if v == "before":
                continue
            d = np.zeros(len(pairs))
            changed = 0
            for i, j in enumerate(pairs):
                with variant(v):
                    seeds = _codec_seeds(frames[j], frames[j + 2])
                if (seeds is None) == (base[i] is None) and (seeds is None or np.array_equal(seeds, base[i])):
                    continue
                changed += 1
                truth = frames[j + 1]
                with variant(v):
                    d[i] = psnr(render(frames[j], frames[j + 2])[0], truth)
                with variant("before"):
                    d[i] -= psnr(render(frames[j], frames[j + 2])[0], truth)
            out.append(f"| {stem} | {len(pairs)} | {gated} | {v} | {changed} | {d.mean():+.4f} | {d.min():+.2f} |")
    return out


def size_table() -> list[str]:
    """The family's zooms at 1280x720 and 1920x1080, and the families' wide cases."""
    out = ["| case | size | zoom share, full size | averaged | gate, full-size share | gate now | blend "
           "| full-size share | now |", "|---|---|---|---|---|---|---|---|---|"]
    for case in (c for c in families.cases("overlay") if " zoom " in c.name):
        for k in (2, 3):
            rgb = core.resize.Bicubic(case.clip, 640 * k, 360 * k, format=vs.RGB24)
            a, mid, b = (frame_array(rgb.get_frame(i)) for i in range(3))
            mask = np.repeat(np.repeat(case.mask, k, axis=0), k, axis=1)
            x0, x1 = _f32(a), _f32(b)
            spread = range3(x0)
            f = encoded.SHARE_WIDTH
            small = [encoded.averaged(x, x0.shape[2] // f) for x in (x0, x1)]
            cells = [encoded.zoom_share(x0, x1, spread), encoded.zoom_share(*small, range3(small[0]))]
            with variant("full-size share"):
                cells.append(encoded.zoom_gate(x0, x1, spread))
            cells.append(encoded.zoom_gate(x0, x1, spread))
            cells.append(psnr(((a.astype(np.uint16) + b + 1) // 2).astype(np.uint8), mid, mask))
            for v in ("full-size share", "now"):
                with variant(v):
                    cells.append(psnr(render(a, b)[0], mid, mask))
            name = case.name.removeprefix("overlay ")
            out.append(f"| {name} | {640 * k}x{360 * k} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    wide, gated = 0, [0, 0]
    for fam in families.FAMILIES:
        for case in families.cases(fam):
            if case.clip.width < 1280:
                continue
            wide += 1
            x0, x1 = (_f32(frame_array(case.clip.get_frame(i))) for i in (0, 2))  # the pair hard_scenes.py renders
            spread = range3(x0)
            with variant("full-size share"):
                gated[0] += encoded.zoom_gate(x0, x1, spread) > 0
            gated[1] += encoded.zoom_gate(x0, x1, spread) > 0
    out += ["", f"Cases of the families (scripts/hard_scenes.py) 1280 px wide and up: {wide}; past the zoom gate "
            f"with the full-size share: {gated[0]}, now: {gated[1]}."]
    return out


def upscaled_table(frames: int = 80) -> list[str]:
    """The sample clips resized to 1920 px wide (bicubic), pairs (j, j + 1) and (j, j + 2) for
    every even j of the first ``frames``: pairs past the zoom gate and pairs with codec
    seeds, with the full-size share and now."""
    out = ["| clip, resized | pairs | past the gate: full-size share / now | with codec seeds: full-size share / now |",
           "|---|---|---|---|"]
    for stem in assets.SAMPLES:
        src = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem])))
        h = round(src.height * 1920 / src.width / 2) * 2
        rgb = core.resize.Bicubic(src, 1920, h, format=vs.RGB24, matrix_in_s=default_matrix_name(src.width, src.height))
        clip = [frame_array(rgb.get_frame(i)) for i in range(min(frames, src.num_frames))]
        pairs = [(j, j + k) for k in (1, 2) for j in range(0, len(clip) - k, 2)]
        gated, seeded = [0, 0], [0, 0]
        for i, j in pairs:
            x0, x1 = _f32(clip[i]), _f32(clip[j])
            for n, v in enumerate(("full-size share", "now")):
                with variant(v):
                    if encoded.zoom_gate(x0, x1, range3(x0)) > 0:
                        gated[n] += 1
                        seeded[n] += _codec_seeds(clip[i], clip[j]) is not None
        out.append(f"| {stem}, 1920x{h} | {len(pairs)} | {gated[0]} / {gated[1]} | {seeded[0]} / {seeded[1]} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write the markdown here instead of printing it")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = ap.parse_args()
    head = (f"# The zoom route of the codec gate, and its variants\n\nProduced by `python scripts/zoom_gate.py "
            f"--out docs/zoom-gate.md` on {datetime.date.today()} ({platform.machine()}, {os.cpu_count()} CPU cores; "
            "ONNX Runtime CPU EP). What each variant is: the script's docstring; the discussion: "
            "[protection.md](protection.md), \"A zoom for the codec gate\".\n")
    text = "\n".join([head, "## Overlays over a zoom (PSNR dB inside the boxes)", "", *overlay_table(args.variants), "",
                      "## Sample clips, every second frame (PSNR dB of the whole frame, against `before`)", "",
                      *sample_table(args.variants), "",
                      "## The family's zooms at other frame sizes (PSNR dB inside the boxes)", "",
                      *size_table(), "",
                      "## Real footage upscaled: the sample clips at 1920 px wide", "", *upscaled_table(), ""])
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Real footage upscaled, through the filter: what the masks of vsvfi.upscaled (on soft frames
1280 px wide and up, the overlays the full-size masks found extended with the masks made at
about 640 px wide: "joined" below) change against the full-size masks alone, where there is
no overlay to protect.

The three sample clips resized (bicubic) to 1280 and 1920 px wide; pairs (j, j + 2) spread
over each clip, the filter's frame at t = 0.5 scored against frame j + 1 (PSNR dB, RGB).
Only pairs whose masks differ are rendered (the rest are identical by construction).

    python scripts/upscaled_footage.py [--pairs 12] [--out FILE]

Prints (or writes) markdown: per clip and width, how many pairs read soft, how many have
different masks, the share of the frame the overlay masks cover both ways, and the PSNR
of the filter's frame with the joined masks against the full-size masks alone (mean, worst
and best over the pairs whose masks differ) and against protection off. About 15 minutes on the CPU provider.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
from pathlib import Path

import numpy as np
import vapoursynth as vs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from hard_scenes import psnr, render  # noqa: E402
from overlay_sizes import variant  # noqa: E402
from vsvfi import assets, protect, upscaled  # noqa: E402
from vsvfi.colour import default_matrix_name  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402

core = vs.core


def _same(m: protect.Masks, u: protect.Masks) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(m[:3], u[:3])) and m.shifts == u.shifts


def measure(stem: str, width: int, pairs: int) -> dict:
    src = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem])))
    h = round(src.height * width / src.width / 2) * 2
    rgb = core.resize.Bicubic(src, width, h, format=vs.RGB24, matrix_in_s=default_matrix_name(src.width, src.height))
    starts = np.linspace(0, src.num_frames - 3, pairs).round().astype(int)
    row = {"clip": f"{stem}, {width}x{h}", "pairs": len(starts), "soft": 0, "differ": 0, "cover": [], "gain": [],
           "off": []}
    for j in starts:
        a, mid, b = (frame_array(rgb.get_frame(int(j) + k)) for k in range(3))
        x0, x1 = (x.astype(np.float32) / 255 for x in (a, b))
        row["soft"] += upscaled.sharpness(x0, width // 640) < upscaled.SOFT
        full, now = protect.masks_and_motion(x0, x1), upscaled.masks(x0, x1)
        if _same(full, now):
            continue
        row["differ"] += 1
        row["cover"].append((float((full.overlay > 0).mean()), float((now.overlay > 0).mean())))
        joined = psnr(render(a, b)[0], mid)
        with variant("full-size"):
            alone = psnr(render(a, b)[0], mid)
        row["gain"].append(joined - alone)
        row["off"].append(joined - psnr(render(a, b, protect_static=False)[0], mid))
    return row


def report(pairs: int) -> str:
    lines = ["| clip | pairs | soft | masks differ | overlay pixels, full-size / joined, mean | joined - full-size "
             "alone, dB: mean (worst, best) | joined - protection off, dB: mean (worst) |", "|---|---|---|---|---|---|---|"]
    for stem in assets.SAMPLES:
        for width in (1280, 1920):
            r = measure(stem, width, pairs)
            if r["differ"]:
                cover = np.array(r["cover"]).mean(axis=0) * 100
                g, o = np.array(r["gain"]), np.array(r["off"])
                cells = (f"{cover[0]:.3f} % / {cover[1]:.3f} %", f"{g.mean():+.3f} ({g.min():+.2f}, {g.max():+.2f})",
                         f"{o.mean():+.3f} ({o.min():+.2f})")
            else:
                cells = ("-", "-", "-")
            lines.append(f"| {r['clip']} | {r['pairs']} | {r['soft']} | {r['differ']} | " + " | ".join(cells) + " |")
    cmd = " ".join(["python scripts/upscaled_footage.py", *sys.argv[1:]])
    intro = (f"# Real footage upscaled: the joined masks against the full-size masks alone\n\nProduced by `{cmd}` on "
             f"{datetime.date.today()} ({platform.machine()}, CPU provider). Pairs (j, j + 2), the filter's frame at "
             "t = 0.5 against frame j + 1; what the columns are: the script's docstring.\n")
    return "\n".join([intro, *lines, ""])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=12, help="pairs per clip and width")
    ap.add_argument("--out", type=Path, help="write the markdown here instead of printing it")
    args = ap.parse_args()
    text = report(args.pairs)
    (args.out.write_text if args.out else print)(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Other signals for weighing the flow scales of ``scale="auto"``, beside the misfit it reads.

``scale="auto"`` fuses the frames of scales 1, 0.5 and 0.25 on pairs that move more than
48 px, weighted by each scale's misfit (``vsvfi.scale_fusion``; 4 m (1 - m) |warp0 - warp1|,
m the fusion mask). On two of the large-motion family's 25 fused cases it ends more than
0.5 dB below the best fixed scale (docs/auto-scale.md). Their misfits are nearly equal
across scales while the frames differ by 3-5 dB, and most of the error sits where content
enters or leaves the frame, which the mask hides from the misfit. This script tries signals
that see more of the flow, on the cases the filter fuses (the large-motion, pan and shake
families; measured motion above ``FUSE_ABOVE``, not a cut):

- ``consistency``: the mean of |F_t0 + F_t1| (pixels). At t = 0.5 the two flows of linear
  motion are opposite, and a flow that missed the motion breaks that.
- ``outside``: the share of the output that the fusion mask takes from a warp sampling
  outside the frame.
- The misfit combined with those: ``misfit x consistency`` and ``misfit + outside / 4``.
- Frames fused without weights: the per-pixel median of the three, and that median
  averaged with the misfit-weighted frame.

The network runs in torch (``vsvfi.export``, eager, CPU; within 1e-3 of the ONNX graph), each
scale on the pair padded for itself at the bottom and right (``--pad``: the numpy/torch
mode, one table each; ``replicate`` is what the engine does). Prints a Markdown table per
padding, one row per rule and a column per family: cases within 0.5 dB of the best fixed
scale (at that padding), mean and worst against it, mean against scale 1. Needs the
``export`` extra (torch).

    .venv/bin/python scripts/scale_signals.py [--pad replicate reflect] [--out docs/scale-signals.md]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import heldout_scenes  # noqa: E402
from hard_scenes import psnr, to_u8  # noqa: E402
from vsvfi import families, motion, scale_fusion, scenes  # noqa: E402
from vsvfi.export import load_weights, network  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402
from vsvfi.models import spec  # noqa: E402

FAMILIES = ("large-motion", "pan", "shake")


def signals(m, w0, w1, flow, h: int, w: int) -> dict[str, float]:
    """The per-scale signals of the module docstring, over the frame's h x w pixels."""
    g = 4 * m * (1 - m)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")

    def off(fl):
        x, y = xx + fl[0, 0], yy + fl[0, 1]
        return ((x < -0.5) | (x > w - 0.5) | (y < -0.5) | (y > h - 0.5)).float()

    return {"misfit": float((g * (w0 - w1).abs().mean(1, keepdim=True)).mean()),
            "consistency": float((flow[:, 0:2] + flow[:, 2:4]).norm(dim=1).mean()),
            "outside": float((m[0, 0] * off(flow[:, 0:2]) + (1 - m[0, 0]) * off(flow[:, 2:4])).mean())}


fuse = scale_fusion.fuse


def _filter(fr: list, sg: list[dict]) -> np.ndarray:
    return fuse(fr, [s["misfit"] for s in sg])


RULES = {  # name: frames, per-scale signals -> fused frame (weights: scale_fusion.weights, other floors)
    "misfit (the filter)": _filter,
    "consistency": lambda fr, sg: fuse(fr, [s["consistency"] for s in sg], floor=0.1),
    "misfit x consistency": lambda fr, sg: fuse(fr, [s["misfit"] * s["consistency"] for s in sg], floor=1e-4),
    "misfit + outside / 4": lambda fr, sg: fuse(fr, [s["misfit"] + s["outside"] / 4 for s in sg]),
    # only where all three scales run (at most 200 px); above that, the filter's frame
    "per-pixel median": lambda fr, sg: np.median(np.stack(fr), 0) if len(fr) == 3 else _filter(fr, sg),
    "median and misfit, averaged": lambda fr, sg: (RULES["per-pixel median"](fr, sg) + _filter(fr, sg)) / 2,
}


def measure(pad: str) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """{rule: {family: [(PSNR - best fixed scale, PSNR - scale 1), ...]}}."""
    net = network("rife46")
    net.load_state_dict(load_weights("rife46"), strict=False)
    net.eval()
    torch.set_num_threads(2)
    out: dict[str, dict[str, list[tuple[float, float]]]] = {r: {} for r in RULES}
    for family in FAMILIES:
        for case in families.cases(family):
            small = scenes.thumbnails(case.clip)
            found = motion.compare_both(*(np.asarray(small.get_frame(i)[0]) for i in (0, 2)))
            moved = found.motion * case.clip.width / small.width
            if not case.truth or moved <= scale_fusion.FUSE_ABOVE or found.difference > scenes.SC_THRESHOLD:
                continue
            a, truth, b = (frame_array(case.clip.get_frame(i)) for i in range(3))
            h, w = a.shape[1:]

            def run(s: float) -> tuple[torch.Tensor, ...]:  # each scale on the pair padded for itself
                mult = spec("rife46").pad_for(s)
                x0, x1 = (F.pad(torch.from_numpy(x).float()[None] / 255, (0, -w % mult, 0, -h % mult), mode=pad)
                          for x in (a, b))
                with torch.no_grad():
                    m, w0, w1, flow = net.flows(x0, x1, torch.full((1, 1, 1, 1), 0.5), s)
                    return tuple(v[..., :h, :w] for v in (w0 * m + w1 * (1 - m), m, w0, w1, flow))

            frames, sig, fixed = [], [], []
            for s in scale_fusion.auto_scales(moved, True):
                got = run(s)
                frames.append(got[0][0].numpy())
                sig.append(signals(*got[1:], h, w))
                fixed.append(psnr(to_u8(frames[-1]), truth))
            # above COARSE_ABOVE scale 1 is not fused, but still a fixed scale to beat
            one = fixed[0] if len(fixed) == 3 else psnr(to_u8(run(1.0)[0][0].numpy()), truth)
            best = max([*fixed, one])
            for rule, make in RULES.items():
                p = psnr(to_u8(make(frames, sig)), truth)
                out[rule].setdefault(family, []).append((p - best, p - one))
            print(f"{case.name}: best fixed {best:.2f}", file=sys.stderr, flush=True)
    return out


INTRO = """# Signals for weighing the flow scales of scale="auto"

Produced by `{cmd}` on {date} (x86_64, CPU, torch eager). What is tried and why: the
script's docstring; what the filter does: [auto-scale.md](auto-scale.md). Per family: cases
within 0.5 dB of the best fixed scale / cases; mean (worst) against the best fixed scale;
mean against scale 1 (dB). The first row is what the filter does. A rule worth adopting
would hold every large-motion case within 0.5 dB (issue 12's goal for making
`scale="auto"` the default) and lose nothing on the pans and shakes.
"""


def markdown(found: dict[str, dict[str, list[tuple[float, float]]]], pad: str) -> str:
    fams = list(next(iter(found.values())))
    lines = [f"## Padding: {pad}", "", "| rule | " + " | ".join(f"{f}" for f in fams) + " |",
             "|---|" + "---|" * len(fams)]
    for rule, by_family in found.items():
        cells = []
        for f in fams:
            v = np.array(by_family[f])
            cells.append(f"{(v[:, 0] >= -0.5).sum()}/{len(v)}; {v[:, 0].mean():+.2f} ({v[:, 0].min():+.2f}); "
                         f"{v[:, 1].mean():+.2f}")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def page(args: argparse.Namespace) -> str:
    cmd = " ".join(["python scripts/scale_signals.py", *sys.argv[1:]])
    return "\n".join([INTRO.format(cmd=cmd, date=datetime.date.today()),
                      *(markdown(measure(p), p) for p in args.pad)])


def main() -> int:
    heldout_scenes.cli(page, __doc__, lambda ap: ap.add_argument("--pad", choices=("replicate", "reflect"), nargs="+",
                                                                 default=["replicate"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

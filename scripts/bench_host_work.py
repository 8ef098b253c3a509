"""The filter's own CPU work per source pair, the network left out: what limits the whole
filter on a GPU, where the network takes a few ms (docs/gpu.md, "Second run on an H200" and
"Third run").

bigbuckbunny (``--clip``: another sample clip; ``--frames``: its first N frames) resized to
1920x1080, Interpolate(ratio=2) on the GPU path's engine settings
(frames uploaded once and padded by the pad graph, here on the CPU provider), with the
network run replaced by a copy of its first input. Every output frame is requested in
order with VapourSynth on 1, then 2 threads; the speed-up on 2 threads says how much of
the work is serial (Amdahl: serial share s = 2 / speed-up - 1): held by the GIL, or in a
callback VapourSynth runs for one frame at a time.

    .venv/bin/python scripts/bench_host_work.py [--protect] [--before REV] [--rounds N] [--clip STEM] [--frames N]

With ``--before REV`` the package as of git revision REV (``git archive``) is measured too,
each in a process of its own, taking turns with the current code in every round; the table
gives medians over ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_run(self, a, b, t, scale):
    """Stands in for RifeEngine._run: the first input, copied (no network)."""
    import numpy as np

    a = a if isinstance(a, np.ndarray) else a.numpy()
    return {"frame": a.copy(), "large_motion": np.zeros(len(a), bool)}


def measure(protect: bool, stem: str = "bigbuckbunny", frames: int | None = None) -> dict[int, float]:
    """ms per source pair on 1 and 2 VapourSynth threads, with the vsvfi first on sys.path."""
    import functools

    import vapoursynth as vs

    from vsvfi import assets, filter as vfilter
    from vsvfi.runtime import RifeEngine

    core = vs.core
    RifeEngine._run = copy_run
    vfilter.get_engine = functools.partial(vfilter.get_engine, device_pad=True)
    clip = core.resize.Bicubic(core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem]))), 1920, 1080)[:frames]
    ms = {}
    for threads in (1, 2):
        core.num_threads = threads
        out = vfilter.Interpolate(clip, ratio=2, provider="cpu", protect_static=protect)
        out.get_frame(1)
        t0 = time.perf_counter()
        for _ in out.frames():
            pass
        ms[threads] = 1e3 * (time.perf_counter() - t0) / (out.num_frames // 2)
    return ms


def run(root: Path, protect: bool, stem: str, frames: int | None) -> dict[int, float]:
    """:func:`measure` in a fresh process importing the vsvfi package under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root), "VSVFI_MODEL_DIR": str(ROOT / "models")}
    code = (f"import sys, json; sys.path.insert(0, {str(ROOT / 'scripts')!r}); import bench_host_work as b; "
            f"print(json.dumps(b.measure({protect}, {stem!r}, {frames!r})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True)
    return {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protect", action="store_true", help="with protect_static (the default); else without")
    ap.add_argument("--before", metavar="REV", help="also measure the package as of this git revision")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--clip", default="bigbuckbunny", help="sample clip (default bigbuckbunny)")
    ap.add_argument("--frames", type=int, help="only the clip's first N frames")
    args = ap.parse_args()
    versions = {"now": ROOT}
    if args.before:
        old = Path(tempfile.mkdtemp(prefix="vsvfi-before-"))
        archive = subprocess.run(["git", "archive", args.before, "vsvfi"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "x", "-C", str(old)], input=archive.stdout, check=True)
        versions = {args.before: old, **versions}
    ms = {(name, threads): [] for name in versions for threads in (1, 2)}
    for _ in range(args.rounds):
        for name, root in versions.items():
            for threads, value in run(root, args.protect, args.clip, args.frames).items():
                ms[name, threads].append(value)
    print("| code | protect_static | ms per pair, 1 thread | ms per pair, 2 threads | speed-up | serial share |")
    print("|---|---|---|---|---|---|")
    for name in versions:
        one, two = statistics.median(ms[name, 1]), statistics.median(ms[name, 2])
        gain = one / two
        print(f"| {name} | {args.protect} | {one:.1f} | {two:.1f} | {gain:.2f}x | {100 * (2 / gain - 1):.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The filter's own CPU work per source pair, the network left out: what limits the whole
filter on a GPU, where the network takes a few ms (docs/gpu.md, "Second run on an H200").

bigbuckbunny resized to 1920x1080, Interpolate(ratio=2) on the GPU path's engine settings
(frames uploaded once and padded by the pad graph, here on the CPU provider), with the
network run replaced by a copy of its first input. Every output frame is requested in
order with VapourSynth on 1, then 2 threads; the speed-up on 2 threads says how much of
the work holds the GIL (Amdahl: serial share s = 2 / speed-up - 1).

    .venv/bin/python scripts/bench_host_work.py [--protect]
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
import vapoursynth as vs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vsvfi import assets, filter as vfilter  # noqa: E402
from vsvfi.runtime import RifeEngine  # noqa: E402

core = vs.core


def copy_run(self, a, b, t, scale):
    """Stands in for RifeEngine._run: the first input, copied (no network)."""
    a = a if isinstance(a, np.ndarray) else a.numpy()
    return {"frame": a.copy(), "large_motion": np.zeros(len(a), bool)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protect", action="store_true", help="with protect_static (the default); else without")
    args = ap.parse_args()
    RifeEngine._run = copy_run
    vfilter.get_engine = functools.partial(vfilter.get_engine, device_pad=True)
    clip = core.resize.Bicubic(core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bigbuckbunny"]))), 1920, 1080)
    ms = {}
    for threads in (1, 2):
        core.num_threads = threads
        out = vfilter.Interpolate(clip, ratio=2, provider="cpu", protect_static=args.protect)
        out.get_frame(1)
        t0 = time.perf_counter()
        for _ in out.frames():
            pass
        ms[threads] = 1e3 * (time.perf_counter() - t0) / (out.num_frames // 2)
    gain = ms[1] / ms[2]
    print(f"| protect_static | ms per pair, 1 thread | ms per pair, 2 threads | speed-up | serial share |")
    print("|---|---|---|---|---|")
    print(f"| {args.protect} | {ms[1]:.1f} | {ms[2]:.1f} | {gain:.2f}x | {100 * (2 / gain - 1):.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

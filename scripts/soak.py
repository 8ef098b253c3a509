#!/usr/bin/env python
"""Soak test: render many output frames of a small synthetic clip through vsvfi.Interpolate
in this process and watch resident memory (issue 5: memory stays flat on long clips).

The clip is a YUV420P8 window (64x48 unless --size says otherwise) moving over a real frame
(frame 0 of the carphone sample, or of bigbuckbunny for windows that do not fit in 176x144
with room to move; uniform noise when the sample is not in the cache), bouncing between its edges at 2
pixels per frame across and 2 down, so nearly every pair is interpolated by the network
(no static pairs; a pair the scene-change detector flags is duplicated instead). Frames are requested in order with VapourSynth's prefetching (as vspipe does), on
the CPU provider. VmRSS (/proc/self/status) is sampled every 1k output frames; the per-clip caches are instrumented to report their peak size against
their capacity.

    .venv/bin/python scripts/soak.py [--frames 10000] [--ratio 4] [--size 64x48] [--out docs/soak.md]

Prints a Markdown table (and writes it to --out). Exit status 1 when RSS grew by more than
--max-growth MiB between the 1k sample and the last one.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vapoursynth as vs  # noqa: E402

import vsvfi  # noqa: E402
import vsvfi.filter  # noqa: E402
from vsvfi.cache import OnceCache  # noqa: E402

core = vs.core
W, H = 64, 48


def rss_mib() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MiB."""
    vals = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, kb = line.split()[:2]
                vals[key] = int(kb) / 1024
    return vals["VmRSS:"], vals["VmHWM:"]


def _image() -> tuple[list[np.ndarray], str]:
    """Planes (Y, U, V) of a 4:2:0 8-bit image to cut W x H windows from (at least 32 luma
    pixels larger each way), and where it came from."""
    from vsvfi import assets

    for stem, (iw, ih) in (("carphone_pristine", (176, 144)), ("bigbuckbunny", (1280, 720))):
        path = assets.SAMPLES[stem].path
        if iw >= W + 32 and ih >= H + 32 and path.exists():
            f = core.bs.VideoSource(str(path)).get_frame(0)
            if f.format.id == vs.YUV420P8:
                return [np.array(f[p], copy=True) for p in range(3)], f"frame 0 of {path.name}"
    rng = np.random.default_rng(0)
    ih, iw = max(144, H + 32), max(176, W + 32)
    return [rng.integers(16, 236, (ih, iw), dtype=np.uint8)] + \
        [rng.integers(16, 240, (ih // 2, iw // 2), dtype=np.uint8) for _ in range(2)], "uniform noise (sample not cached)"


def moving_clip(length: int) -> tuple[vs.VideoNode, str]:
    """``length`` frames: a W x H window at even offsets (x(n), y(n)) on the image."""
    planes, origin = _image()
    ih, iw = planes[0].shape
    mx, my = (iw - W) // 2, (ih - H) // 2  # offsets in chroma units (luma / 2)

    def bounce(k: int, span: int) -> int:  # 0, 1, ..., span, span - 1, ..., 0, 1, ...
        k %= 2 * span
        return k if k <= span else 2 * span - k

    def offset(n: int) -> tuple[int, int]:  # 1 chroma pixel (2 luma pixels) across and down per frame
        return bounce(n, mx), bounce(n + 7, my)

    blank = core.std.BlankClip(width=W, height=H, format=vs.YUV420P8, length=length, fpsnum=25)

    def window(n, f):
        fout = f.copy()
        cx, cy = offset(n)
        np.copyto(np.asarray(fout[0]), planes[0][2 * cy:2 * cy + H, 2 * cx:2 * cx + W])
        for p in (1, 2):
            np.copyto(np.asarray(fout[p]), planes[p][cy:cy + H // 2, cx:cx + W // 2])
        return fout

    return core.std.ModifyFrame(blank, blank, window), origin


class PeakCache(OnceCache):
    """OnceCache that remembers its largest size."""

    instances: list["PeakCache"] = []

    def __init__(self, capacity):
        super().__init__(capacity)
        self.peak = 0
        PeakCache.instances.append(self)

    def get(self, key, make):
        value = super().get(key, make)
        self.peak = max(self.peak, len(self))
        return value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=10_000, help="output frames to render (default 10000)")
    ap.add_argument("--ratio", default="4", help="interpolation ratio (default 4)")
    ap.add_argument("--size", default="64x48", help="window WxH, even numbers up to 1248x688 (default 64x48)")
    ap.add_argument("--threads", type=int, default=0, help="core.num_threads (default: VapourSynth's)")
    ap.add_argument("--out", help="also write the Markdown table here")
    ap.add_argument("--max-cache", type=int, metavar="MIB", help="core.max_cache_size (default: VapourSynth's)")
    ap.add_argument("--no-protect-static", action="store_true", help="Interpolate(protect_static=False)")
    ap.add_argument("--mmap-threshold", type=int, metavar="BYTES",
                    help="glibc mallopt(M_MMAP_THRESHOLD, BYTES) before rendering: blocks of at least BYTES "
                         "(VapourSynth frame planes) are mmapped and go back to the OS when freed "
                         "(same as the environment variable MALLOC_MMAP_THRESHOLD_)")
    ap.add_argument("--trim-every", type=int, metavar="N",
                    help="call glibc malloc_trim(0) every N output frames (what the vsvfi command line does)")
    ap.add_argument("--max-growth", type=float, default=20.0,
                    help="fail when RSS grows by more than this many MiB after the 1k sample (default 20)")
    args = ap.parse_args(argv)
    if args.frames < 1000:
        ap.error("--frames must be at least 1000 (the first sample is at 1k)")
    global W, H
    try:
        W, H = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        ap.error(f"--size must be WxH, e.g. 64x48, not {args.size!r}")
    if W < 2 or H < 2 or W % 2 or H % 2 or W > 1248 or H > 688:
        ap.error(f"--size must be even numbers from 2x2 to 1248x688, not {args.size}")
    if args.max_cache:
        core.max_cache_size = args.max_cache
    if args.threads:
        core.num_threads = args.threads
    if args.mmap_threshold is not None:
        import ctypes

        if ctypes.CDLL("libc.so.6").mallopt(-3, args.mmap_threshold) != 1:  # -3: M_MMAP_THRESHOLD
            ap.error("mallopt(M_MMAP_THRESHOLD) failed (not glibc?)")
    vsvfi.filter.OnceCache = PeakCache  # instrument the per-clip caches
    ratio = vsvfi.timing.to_fraction(args.ratio, "--ratio")
    src, origin = moving_clip(math.ceil(args.frames / ratio) + 1)
    out = vsvfi.Interpolate(src, ratio=ratio, provider="cpu", protect_static=not args.no_protect_static)[:args.frames]
    marks = sorted({*range(1000, args.frames + 1, 1000), args.frames})
    rows, synthesized = [], 0
    trim = None
    if args.trim_every:
        import ctypes

        trim = ctypes.CDLL("libc.so.6").malloc_trim
    start_rss = rss_mib()[0]
    t0 = time.perf_counter()
    for n, f in enumerate(out.frames(), 1):
        synthesized += f.props["VsvfiSynthesized"]
        if trim is not None and n % args.trim_every == 0:
            trim(0)
        if n in marks:
            rss, hwm = rss_mib()
            rows.append((n, rss, hwm, time.perf_counter() - t0))
            print(f"{n:6d} frames  RSS {rss:7.1f} MiB  peak {hwm:7.1f} MiB  {time.perf_counter() - t0:6.1f} s",
                  file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t0
    base = rows[0][1]
    growth = rows[-1][1] - base
    sources, pairs = PeakCache.instances[:2]
    lines = [
        f"Command: `.venv/bin/python scripts/soak.py --frames {args.frames} --ratio {args.ratio}"
        f"{'' if args.mmap_threshold is None else f' --mmap-threshold {args.mmap_threshold}'}"
        f"{'' if args.size == '64x48' else f' --size {args.size}'}"
        f"{' --no-protect-static' if args.no_protect_static else ''}"
        f"{f' --trim-every {args.trim_every}' if args.trim_every else ''}`"
        f"{'' if 'MALLOC_MMAP_THRESHOLD_' not in os.environ else ' with MALLOC_MMAP_THRESHOLD_=' + os.environ['MALLOC_MMAP_THRESHOLD_']}; "
        f"{W}x{H} YUV420P8 window moving over {origin}, ratio {ratio}, rife46 on the CPU provider, "
        f"core.num_threads {core.num_threads}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"VapourSynth R{core.core_version.release_major}.",
        "",
        "| output frames | VmRSS (MiB) | change since 1k (MiB) | VmHWM (MiB) | elapsed (s) |",
        "|---:|---:|---:|---:|---:|",
        *[f"| {n:,} | {rss:.1f} | {rss - base:+.1f} | {hwm:.1f} | {t:.1f} |" for n, rss, hwm, t in rows],
        "",
        f"RSS before the first frame: {start_rss:.1f} MiB. {synthesized:,} of {args.frames:,} frames synthesized, "
        f"{args.frames / elapsed:.0f} frames/s. Per-clip caches at their peak: source frames "
        f"{sources.peak}/{sources.capacity}, pairs {pairs.peak}/{pairs.capacity} (size/capacity); "
        f"{sources.misses:,} source frames converted, {pairs.misses:,} pairs prepared.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if growth > args.max_growth:
        print(f"soak: RSS grew by {growth:.1f} MiB after 1k frames (limit {args.max_growth} MiB)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cost of the per-pair measurements (scene change and motion, vsvfi.scenes.pair_stats)
against one network run, at 1080p on the CPU provider.

    .venv/bin/python scripts/bench_scenes.py [--rounds 5]

Both are timed in one process, interleaved: the measurement for a pair of bigbuckbunny
frames resized to 1920x1080 (thumbnails by zimg plus vsvfi.motion.compare_both), and one rife46
run on the same pair (RifeEngine.synthesize, scale 1). Then vsvfi.motion.compare_both alone on the
59 consecutive thumbnail pairs of bikes' first 60 frames, on 1 thread and on 2 threads at once
(each doing all of them): how much of it holds the GIL, which serialises the filter's threads.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import sys
import time
from pathlib import Path

import vapoursynth as vs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vsvfi import assets  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402
from vsvfi.runtime import get_engine  # noqa: E402
from vsvfi.motion import compare_both  # noqa: E402
from vsvfi.scenes import pair_stats, thumbnails  # noqa: E402

core = vs.core


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    src = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bigbuckbunny"])))
    clip = core.resize.Bicubic(src, 1920, 1080, format=vs.YUV420P8)
    rgb = core.resize.Bicubic(clip, format=vs.RGBS, matrix_in_s="709")
    a, b = (frame_array(rgb.get_frame(k)) for k in (60, 61))
    engine = get_engine("rife46", "cpu")
    engine.synthesize(engine.prepare(a, b), 0.5)  # warm-up
    measure, network = [], []
    for r in range(args.rounds):
        pair = clip[60 + r:62 + r]  # a fresh node: nothing cached
        t0 = time.perf_counter()
        pair_stats(pair).get_frame(0)
        measure.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.synthesize(engine.prepare(a, b), 0.5)
        network.append(time.perf_counter() - t0)
    m, n = statistics.median(measure), statistics.median(network)
    print("| 1920x1080 pair, CPU | median s (of %d) |" % args.rounds)
    print("|---|---|")
    print(f"| pair measurements (thumbnails + comparison) | {m:.4f} |")
    print(f"| one rife46 run (scale 1) | {n:.3f} |")
    print(f"| ratio | {100 * m / n:.1f} % |")
    print()
    print(threads_table(args.rounds))
    return 0


def threads_table(rounds: int) -> str:
    """motion.compare_both on 59 thumbnail pairs, serially and on 2 threads at once (medians)."""
    th = thumbnails(core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bikes"]))))
    frames = [frame_array(th.get_frame(k))[0] for k in range(60)]

    def work():
        for k in range(59):
            compare_both(frames[k], frames[k + 1])
    work()
    one, two = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        work()
        work()
        one.append(time.perf_counter() - t0)
        ts = [threading.Thread(target=work) for _ in range(2)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        two.append(time.perf_counter() - t0)
    a, b = statistics.median(one), statistics.median(two)
    return "\n".join(["| motion.compare_both, 118 thumbnail pairs | ms per pair | speed-up on 2 threads |", "|---|---|---|",
                      f"| 1 thread, then 2 threads at once | {1e3 * a / 118:.1f} | {a / b:.2f}x |"])


if __name__ == "__main__":
    sys.exit(main())

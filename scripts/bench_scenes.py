"""Cost of the per-pair measurements (scene change and motion, vsvfi.scenes.pair_stats)
against one network run, at 1080p on the CPU provider.

    .venv/bin/python scripts/bench_scenes.py [--rounds 5]

Both are timed in one process, interleaved: the measurement for a pair of bigbuckbunny
frames resized to 1920x1080 (thumbnails by zimg plus vsvfi.motion.compare_both), and one rife46
run on the same pair (RifeEngine.synthesize, scale 1). Then vsvfi.motion.compare_both alone on the
59 consecutive thumbnail pairs of bikes' first 60 frames, on 1 thread and on 2 threads at once
(each doing all of them): how much of it holds the GIL, which serialises the filter's threads.
With ``--before REV``, vsvfi/motion.py as of git revision REV is timed the same way, each round
beside the current one, and the two are compared on those pairs and on every 3rd pair of each
sample clip's first 120 frames at 1, 2, 4 and 8 frames apart. With ``--steps``, each step of
one comparison (bikes frames 40/41) alone, 100 times on 1 thread and on 2 threads at once:
which steps gain from threads and which lose to handing the GIL back and forth. Prints
Markdown tables.

    .venv/bin/python scripts/bench_scenes.py --rounds 7 --before 12aefd6
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
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
    ap.add_argument("--before", metavar="REV", help="also time vsvfi/motion.py of this git revision")
    ap.add_argument("--steps", action="store_true", help="also time each step of the comparison on 1 and 2 threads")
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
    versions = {"now": compare_both}
    if args.before:
        versions = {args.before: motion_at(args.before).compare_both, **versions}
    print(threads_table(args.rounds, versions))
    if args.before:
        print()
        print(agreement(versions[args.before], compare_both, args.before))
    if args.steps:
        print()
        print(steps_table())
    return 0


def steps_table(calls: int = 100) -> str:
    """Each step of motion.compare on one pair of bikes thumbnails, ``calls`` times on one
    thread (twice) and on two threads at once."""
    from vsvfi import motion as m

    th = thumbnails(core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bikes"]))))
    a, b = (frame_array(th.get_frame(k))[0] for k in (40, 41))
    rows, cols = a.shape[0] // m.BLOCK, a.shape[1] // m.BLOCK
    peaks = [m.unwrap(a, b, p) for p in m.phase_peaks(a, b, m.PEAKS)]
    offsets = m._offsets(peaks)
    ha, hb = m._half(a), m._half(b)
    parent = m._parents(m._coarse(ha, hb, offsets), rows, cols)
    shifted = m._Shifted(b, int(np.abs(parent).max()) + m.FINE_RADIUS + 2, rows, cols)
    vectors = m._median3(m._fine(a, shifted, parent))
    steps = {"fade test (_plain)": lambda: m._plain(a, b), "phase correlation": lambda: m.phase_peaks(a, b, m.PEAKS),
             "halving both frames": lambda: (m._half(a), m._half(b)),
             f"coarse search ({len(offsets)} offsets)": lambda: m._coarse(ha, hb, offsets),
             "half-pixel copies (_Shifted)": lambda: m._Shifted(b, shifted.reach, rows, cols),
             "fine search": lambda: m._fine(a, shifted, parent), "3x3 median": lambda: m._median3(vectors),
             "scores at the vectors": lambda: m._score(a, shifted, vectors), "whole comparison": lambda: m.compare(a, b)}
    lines = ["| step (bikes 40/41) | ms per call, 1 thread | speed-up on 2 threads |", "|---|---|---|"]
    for name, fn in steps.items():
        one, two = one_then_two(lambda: [fn() for _ in range(calls)])
        lines.append(f"| {name} | {1e3 * one / (2 * calls):.3f} | {one / two:.2f}x |")
    return "\n".join(lines)


def agreement(before, now, rev: str) -> str:
    """Both comparisons on every 3rd pair of each sample clip's first 120 frames, 1, 2, 4
    and 8 frames apart: how often the decision at SC_THRESHOLD differs, and by how much the
    difference and the motion move."""
    from vsvfi.scenes import SC_THRESHOLD

    lines = [f"| pairs (every 3rd, first 120 frames) | n | decisions differing | largest change of VsvfiSCDiff "
             f"| largest change of the motion (thumbnail px) |", "|---|---|---|---|---|"]
    for name in assets.SAMPLES:
        th = thumbnails(core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[name]))))
        frames = [frame_array(th.get_frame(k))[0] for k in range(min(120, th.num_frames))]
        pairs = [(frames[i], frames[i + g]) for g in (1, 2, 4, 8) for i in range(0, len(frames) - g, 3)]
        old, new = [before(a, b) for a, b in pairs], [now(a, b) for a, b in pairs]
        flips = sum((o.difference > SC_THRESHOLD) != (n.difference > SC_THRESHOLD) for o, n in zip(old, new))
        diff = max(abs(o.difference - n.difference) for o, n in zip(old, new))
        moved = max(abs(o.motion - n.motion) for o, n in zip(old, new))
        lines.append(f"| {name}, 1/2/4/8 apart | {len(pairs)} | {flips} | {diff:.2g} | {moved:.2g} |")
    return f"{rev} against now:\n\n" + "\n".join(lines)


def one_then_two(work) -> tuple[float, float]:
    """Seconds for ``work()`` twice on this thread, then for it on two threads at once."""
    t0 = time.perf_counter()
    work()
    work()
    one = time.perf_counter() - t0
    ts = [threading.Thread(target=work) for _ in range(2)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return one, time.perf_counter() - t0


def motion_at(rev: str):
    """vsvfi/motion.py as of git revision ``rev``, imported as a module of its own."""
    text = subprocess.run(["git", "show", f"{rev}:vsvfi/motion.py"], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1]).stdout
    path = Path(tempfile.mkdtemp()) / "motion_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("motion_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def threads_table(rounds: int, versions: dict) -> str:
    """Each version's compare_both on 59 thumbnail pairs, serially and on 2 threads at once
    (medians; the versions take turns within each round)."""
    th = thumbnails(core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bikes"]))))
    frames = [frame_array(th.get_frame(k))[0] for k in range(60)]
    results = {name: [fn(frames[k], frames[k + 1]) for k in range(59)] for name, fn in versions.items()}
    one = {name: [] for name in versions}
    two = {name: [] for name in versions}
    for _ in range(rounds):
        for name, fn in versions.items():
            a, b = one_then_two(lambda: [fn(frames[k], frames[k + 1]) for k in range(59)])
            one[name].append(a)
            two[name].append(b)
    lines = ["| motion.compare_both, 118 thumbnail pairs | ms per pair, 1 thread | speed-up on 2 threads |",
             "|---|---|---|"]
    for name in versions:
        a, b = statistics.median(one[name]), statistics.median(two[name])
        lines.append(f"| {name} | {1e3 * a / 118:.1f} | {a / b:.2f}x |")
    if len(versions) > 1:
        old, new = results.values()
        diff = max(abs(o.difference - n.difference) for o, n in zip(old, new))
        moved = max(abs(o.motion - n.motion) for o, n in zip(old, new))
        lines += ["", f"Against {next(iter(versions))} on the 59 pairs: largest change of VsvfiSCDiff {diff:.2g}, "
                  f"of the motion {moved:.2g} thumbnail pixels."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""Held-out check of the scene-change detector on cases the families (vsvfi.families) do not
hold: pans at random angles and sub-pixel speeds (5-25 % of the width per frame) over frames
of all three sample clips that no family uses, at 640, 1280 and 352 wide and at 16:9,
2.35:1 and 11:9; zooms of 5-20 % around random points; shakes of up to 48 px; dissolves
and fades to and from black or white over 2, 3, 5 and 10 frames (a random step, and the step
into or out of the flat frame) between panning shots; brightness steps and flashes over a
pan; cuts between other frames of bikes'
shots and between the clips, and between every 6th frame of bikes.mp4 and every 6th frame
of its other shots. Then every pair of the three sample clips at 1 to 4 frames apart. The
detector was tuned on the families; this says whether its decisions hold elsewhere. Each
generated pair is made by zimg (Bicubic) from one still frame, so a pan's two frames are
resampled alike.

    python scripts/heldout_scenes.py [--out FILE]

Prints (or writes) markdown: per kind, pairs, how many each measure calls a cut and the
range of its difference: ``vsvfi`` is ``VsvfiSCDiff`` (:func:`vsvfi.motion.compare_both`,
what the filter reads), ``one way`` is :func:`vsvfi.motion.compare` of the earlier frame
with the later alone; then the cases nearest the threshold. Takes about 2 minutes.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import vapoursynth as vs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vsvfi import assets, motion, scenes  # noqa: E402
from vsvfi.families_common import array_clip, mix, still_clip  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402
from vsvfi.families_motion import zoom_clip  # noqa: E402

core = vs.core
#: (stem, frame, upscale, window width, height): frames no family case is built from.
PAN_SOURCES = ([("bigbuckbunny", n, 1, 640, 360) for n in (5, 40, 85, 120)]
               + [("bigbuckbunny", n, 2, 1280, 720) for n in (10, 95)]
               + [("bikes", n, 2, 640, 272) for n in (20, 60, 110, 150, 200, 235)]
               + [("bikes", n, 3, 1280, 544) for n in (40, 170)]
               + [("carphone_pristine", n, 4, 352, 288) for n in (15, 70)])
PAN_SHARES = (0.05, 0.1, 0.15, 0.2, 0.25)
ZOOM_SOURCES = [("bikes", 60, 2, 640, 272), ("bigbuckbunny", 100, 1, 640, 360),
                ("carphone_pristine", 20, 4, 352, 288), ("bikes", 225, 2, 640, 272)]
BIKES_OTHER_SHOT_FRAMES = (15, 60, 90, 170, 210, 248)
CROSS = [(("bikes", 30), ("carphone_pristine", 50)), (("carphone_pristine", 5), ("bigbuckbunny", 20)),
         (("bigbuckbunny", 40), ("bikes", 120)), (("bikes", 240), ("bigbuckbunny", 130)),
         (("carphone_pristine", 90), ("bikes", 80))]


#: bikes.mp4's shots: the first frame of each, and its frame count at the end.
BIKES_SHOTS = (0, 30, 76, 137, 187, 242, 250)


def _luma(clip: vs.VideoNode, n: int) -> np.ndarray:
    return np.asarray(clip.get_frame(n)[0]).astype(np.float32)


def measure(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(both ways, one way, motion in thumbnail pixels) of thumbnails ``a`` and ``b``."""
    ab, ba = motion.compare(a, b), motion.compare(b, a)
    return max(ab.difference, ba.difference), ab.difference, ab.motion


def measure_clip(clip: vs.VideoNode) -> tuple[float, float, float]:
    """:func:`measure` of frames 0 and 1 of ``clip``, motion in pixels at the clip's size."""
    small = scenes.thumbnails(clip)
    both, one, moved = measure(_luma(small, 0), _luma(small, 1))
    return both, one, moved * clip.width / small.width


def _shot(n: int) -> int:
    return next(k for k in range(len(BIKES_SHOTS) - 1) if n < BIKES_SHOTS[k + 1])


def sample_pairs():
    """(clip stem, frames apart, name, (both, one, motion), is a cut) of every pair of the
    sample clips 1-4 frames apart, and of bikes' frames 2, 8, ... against those of other shots."""
    for stem in assets.SAMPLES:
        small = scenes.thumbnails(core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem]))))
        frames = [_luma(small, n) for n in range(small.num_frames)]
        for k in (1, 2, 3, 4):
            for i in range(0, len(frames) - k, k):
                cut = stem == "bikes" and _shot(i) != _shot(i + k)
                yield stem, k, f"{stem} {i}|{i + k}", measure(frames[i], frames[i + k]), cut
        if stem == "bikes":
            every = range(2, small.num_frames, 6)
            for i in every:
                for j in every:
                    if _shot(i) != _shot(j):
                        yield stem, None, f"bikes {i}|{j}", measure(frames[i], frames[j]), True


def pan_pair(src: vs.VideoNode, w: int, h: int, x0: float, y0: float, dx: float, dy: float) -> vs.VideoNode:
    return core.std.Splice([core.resize.Bicubic(src, w, h, src_left=x0 + t * dx, src_top=y0 + t * dy,
                                                src_width=w, src_height=h) for t in (0, 1)])


def _window_pair(rng, stem: str, n: int, up: int, w: int, h: int, most: float) -> tuple[np.ndarray, np.ndarray]:
    """Two RGB24 arrays of a window of the frame panning up to ``most`` px at a random angle."""
    src = still_clip(stem, n, up)
    d, angle = rng.uniform(0, most), rng.uniform(0, 2 * math.pi)
    dx, dy = d * math.cos(angle), d * math.sin(angle)
    x0 = (src.width - w - abs(dx)) * rng.uniform(0.1, 0.9) + max(0.0, -dx)
    y0 = (src.height - h - abs(dy)) * rng.uniform(0.1, 0.9) + max(0.0, -dy)
    pair = pan_pair(src, w, h, x0, y0, dx, dy)
    return frame_array(pair.get_frame(0)), frame_array(pair.get_frame(1))


def _light_cases(rng):
    """Dissolves, fades and brightness changes between or over panning windows."""
    shots = [("bigbuckbunny", 35, 1, 640, 360), ("bikes", 100, 2, 640, 360), ("bigbuckbunny", 115, 1, 640, 360),
             ("bikes", 205, 2, 640, 360), ("carphone_pristine", 60, 4, 640, 360)]
    for i, sa in enumerate(shots):
        sb = shots[(i + 2) % len(shots)]
        a0, a1 = _window_pair(rng, *sa, 24)
        b0, b1 = _window_pair(rng, *sb, 24)
        for length in (2, 3, 5, 10):
            k = int(rng.integers(0, length))
            yield (f"dissolve step {k}/{length} {sa[0]}#{sa[1]} > {sb[0]}#{sb[1]}",
                   mix(a0, b0, k / length), mix(a1, b1, (k + 1) / length))
            k = int(rng.integers(0, length))
            yield f"fade to black step {k}/{length} {sa[0]}#{sa[1]}", mix(a0, 0, k / length), mix(a1, 0, (k + 1) / length)
            k = length - 1  # the last step: b is flat
            yield f"fade to white step {k}/{length} {sa[0]}#{sa[1]}", mix(a0, 255, k / length), mix(a1, 255, 1.0)
            yield f"fade from black step 0/{length} {sa[0]}#{sa[1]}", mix(a0, 0, 1.0), mix(a1, 0, (length - 1) / length)
        for label, after in (("gain 0.6", lambda x: x * 0.6), ("gain 1.5", lambda x: x * 1.5),
                             ("white flash 40%", lambda x: 0.6 * x + 102), ("offset -50", lambda x: x - 50)):
            b = np.clip(np.rint(after(a1.astype(np.float64))), 0, 255).astype(np.uint8)
            yield f"{label} over a pan {sa[0]}#{sa[1]}", a0, b


def cases(seed: int = 2026):
    """(kind, name, clip, should_be_cut) of every held-out pair."""
    rng = np.random.default_rng(seed)
    for stem, n, up, w, h in PAN_SOURCES:
        src = still_clip(stem, n, up)
        for share in PAN_SHARES:
            angle = rng.uniform(0, 2 * math.pi)
            d = share * w - rng.uniform(0, 0.5)  # at most `share` of the width
            dx = float(np.clip(d * math.cos(angle), -(src.width - w - 2), src.width - w - 2))
            dy = float(np.clip(d * math.sin(angle), -(src.height - h - 2), src.height - h - 2))
            x0 = (src.width - w - abs(dx)) * rng.uniform(0.1, 0.9) + max(0.0, -dx)
            y0 = (src.height - h - abs(dy)) * rng.uniform(0.1, 0.9) + max(0.0, -dy)
            name = f"pan {stem}#{n}x{up} {w}x{h} by {dx:+.1f},{dy:+.1f} px ({math.hypot(dx, dy) / w:.0%} of the width)"
            yield "pan", name, pan_pair(src, w, h, x0, y0, dx, dy), False
    for stem, n, up, w, h in ZOOM_SOURCES:
        for z in (5, 10, 15, 20):
            for way in ("in", "out"):
                ratio = 1 + z / 100 if way == "in" else 1 / (1 + z / 100)
                clip = zoom_clip(stem, n, up, w, h, ratio, (rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)))
                yield "zoom", f"zoom {way} {z}% {stem}#{n} {w}x{h}", clip[0] + clip[2], False
    rng = np.random.default_rng(seed + 1)  # its own draws: the pans and zooms stay as first drawn
    for name, a, b in _light_cases(rng):
        yield "fade or flash", name, array_clip([a, b]), False
    for stem, n, up, w, h in [("bikes", 45, 2, 640, 272), ("bigbuckbunny", 70, 1, 640, 360),
                              ("carphone_pristine", 30, 4, 352, 288)]:
        src = still_clip(stem, n, up)
        for _ in range(4):
            dx, dy = (float(v) for v in rng.uniform(-48, 48, 2))
            x0, y0 = (src.width - w) / 2 - dx / 2, (src.height - h) / 2 - dy / 2
            yield "shake", f"shake {stem}#{n} {w}x{h} by {dx:+.1f},{dy:+.1f} px", pan_pair(src, w, h, x0, y0, dx, dy), False
    shots = BIKES_OTHER_SHOT_FRAMES
    for i in range(len(shots)):
        for j in range(i + 1, len(shots)):
            yield "cut", f"cut bikes {shots[i]}|{shots[j]}", still_clip("bikes", shots[i]) + still_clip("bikes", shots[j]), True
    for (s1, n1), (s2, n2) in CROSS:
        for w, h in ((640, 360), (176, 144)):
            pair = core.resize.Bicubic(still_clip(s1, n1), w, h) + core.resize.Bicubic(still_clip(s2, n2), w, h)
            yield "cut", f"cut {s1} {n1}|{s2} {n2} {w}x{h}", pair, True


def _row(label: str, rs: list) -> str:
    th = scenes.SC_THRESHOLD
    cut = rs[0][3]
    cells = []
    for m in (0, 1):
        v = [r[2][m] for r in rs]
        cells.append(f"{sum(x > th for x in v)} cut, {min(v):.3f} to {max(v):.3f}")
    return f"| {label} | {len(rs)} | {'cut' if cut else 'not a cut'} | {cells[0]} | {cells[1]} |"


def report() -> str:
    rows = [(kind, name, measure_clip(clip), cut) for kind, name, clip, cut in cases()]
    samples = list(sample_pairs())
    cross = [("cut", name, m, True) for _, k, name, m, _ in samples if k is None]
    head = ["| pairs | n | should be | vsvfi (both ways) | one way |", "|---|---|---|---|---|"]
    lines = [f"Threshold `sc_threshold` = {scenes.SC_THRESHOLD}. `python scripts/heldout_scenes.py`.", "", *head]
    for kind in ("pan", "zoom", "shake", "fade or flash", "cut"):
        lines.append(_row(kind, [r for r in rows if r[0] == kind]))
    lines.append(_row("cut: bikes, every 6th frame against every 6th of its other shots", cross))
    lines += ["", "The sample clips, every pair 1 to 4 frames apart (cuts: bikes' five shot changes):", "", *head]
    for stem in assets.SAMPLES:
        for k in (1, 2, 3, 4):
            for cut in (True, False):
                rs = [(None, name, m, c) for s, kk, name, m, c in samples if s == stem and kk == k and c == cut]
                if rs:
                    lines.append(_row(f"{stem}, {k} apart", rs))
    lines += ["", "Nearest the threshold (vsvfi):", "", "| pair | vsvfi | one way | motion (px) |", "|---|---|---|---|"]
    for kind, rs in (("pan", rows), ("zoom", rows), ("shake", rows), ("fade or flash", rows), ("cut", rows + cross)):
        rs = sorted((r for r in rs if r[0] == kind), key=lambda r: r[2][0], reverse=kind != "cut")
        lines += [f"| {r[1].replace('|', '/')} | {r[2][0]:.3f} | {r[2][1]:.3f} | {r[2][2]:.1f} |" for r in rs[:4]]
    return "\n".join(lines) + "\n"


def cli(make, doc: str, options=None) -> None:
    """Command line of a script that makes one markdown page, printed or written to
    ``--out``: ``make()``, or with ``options`` (a function that adds arguments to the
    parser) ``make(args)``."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write the markdown here instead of printing it")
    if options is not None:
        options(ap)
    args = ap.parse_args()
    text = make() if options is None else make(args)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    cli(report, __doc__)

"""Families of :mod:`vsvfi.families` built from whole real frames: cut, fade, pan, zoom,
shake, flash, object and large-motion. Each ``*_cases(quick)`` returns a list of
:class:`~vsvfi.families_common.Case`; see :mod:`vsvfi.families` for what each family is for.

Pair displacements ("64px") are between source frames a and b; the middle frame is at half
of it, so every moving window below has even speeds and its middle is exact.
"""

from __future__ import annotations

import math

import numpy as np
import vapoursynth as vs

from . import synthetic
from .families_common import Case, Shot, array_clip, centred, fit, image, lazy_clip, mix, still_clip

core = vs.core

#: Pairs (i, i + 1) of bikes.mp4 that straddle a hard cut: the thumbnail luma measure of
#: vsvfi.scenes is 0.170-0.283 on them and at most 0.071 on every other pair.
BIKES_CUTS = (29, 75, 136, 186, 241)
#: A frame inside each shot of bikes.mp4 (shots 0-29, 30-75, 76-136, 137-186, 187-241, 242-249).
BIKES_SHOT_FRAMES = (10, 50, 100, 160, 220, 246)
DIRECTIONS = {"horizontal": (1, 0), "vertical": (0, 1), "diagonal": (1, 1)}


def _cut(name: str, a: np.ndarray, b: np.ndarray) -> Case:
    """A cut case: the middle is a copy of a (what the filter should output), truth=False."""
    return Case("cut", name, array_clip([a, a, b]), cut=True, motion=0.0, truth=False)


def cut_cases(quick: bool) -> list[Case]:
    """Real cuts of bikes; different shots of bikes far apart; "similar palette" cuts of
    bigbuckbunny (a single shot, static camera): jump cuts between frames 60 apart, and
    640x360 windows of two places of the scene (mean luma differences 0.05-0.15: hard for
    a luma-difference detector); cuts between clips (both cropped and resampled to one
    size). Middle: a copy of a."""
    out = []
    for i in (29, 186) if quick else BIKES_CUTS:
        out.append(_cut(f"cut bikes {i}|{i + 1} real", image("bikes", i), image("bikes", i + 1)))
    far = [(0, 3), (1, 4), (2, 5)][:1 if quick else 3]
    for s, t in far:
        i, j = BIKES_SHOT_FRAMES[s], BIKES_SHOT_FRAMES[t]
        out.append(_cut(f"cut bikes {i}|{j} shots {s + 1}|{t + 1}", image("bikes", i), image("bikes", j)))
    for i, j in [(70, 130), (60, 120), (50, 110), (0, 131)][:1 if quick else 4]:
        out.append(_cut(f"cut bigbuckbunny {i}|{j} jump cut similar palette", image("bigbuckbunny", i),
                        image("bigbuckbunny", j)))
    views = [(Shot("bigbuckbunny", 20, 2, 640, 0), Shot("bigbuckbunny", 20, 2, 1280, 0)),
             (Shot("bigbuckbunny", 20, 2, 0, 0), Shot("bigbuckbunny", 100, 2, 1280, 180)),
             (Shot("bigbuckbunny", 60, 1, 0, 360), Shot("bigbuckbunny", 125, 1, 320, 0))]
    for sa, sb in views[:1 if quick else 3]:
        out.append(_cut(f"cut {sa} | {sb} other view similar palette w640", sa.window(0, 640, 360),
                        sb.window(0, 640, 360)))
    cross = [("bikes", 100, "bigbuckbunny", 60, 640, 272), ("carphone_pristine", 40, "bigbuckbunny", 90, 176, 144),
             ("bigbuckbunny", 120, "carphone_pristine", 80, 176, 144), ("carphone_pristine", 10, "bikes", 200, 176, 144)]
    for s1, n1, s2, n2, w, h in cross[:1 if quick else 4]:
        a, b = fit(image(s1, n1), w, h), fit(image(s2, n2), w, h)
        out.append(_cut(f"cut {s1} {n1}|{s2} {n2} w{w}", a, b))
    return out


def _timeline(frame_at, k: float, width: int, height: int) -> vs.VideoNode:
    """Lazy 3-frame clip of ``frame_at(t)`` at t = k, k + 0.5, k + 1 (pairs)."""
    return lazy_clip(lambda n: frame_at(k + n / 2), width, height)


def fade_cases(quick: bool) -> list[Case]:
    """10-frame dissolves between two real shots and fades to/from black and to white; a
    pair at step k holds the mixes at k/10 and (k+1)/10 and the middle the exact mix at
    (k + 0.5)/10 (each shot a static or evenly panning window, so exact at half steps)."""
    out = []
    dissolves = [
        (centred("bigbuckbunny", 60, 1, 640, 360, dx=12, travel=10), centred("bikes", 160, 2, 640, 360, dy=8, travel=10),
         (640, 360), (0,) if quick else (0, 2, 4, 5, 7, 9)),
        (Shot("bikes", 100, 1, 0, 0), Shot("bikes", 200, 1, 0, 0), (640, 272), (5,) if quick else (1, 5, 9)),
    ]
    for sa, sb, (w, h), steps in dissolves:
        sa.image(), sb.image()  # decode now, not inside a frame request
        for k in steps:
            def at(t, sa=sa, sb=sb, w=w, h=h):
                return mix(sa.window(t, w, h), sb.window(t, w, h), t / 10)
            out.append(Case("fade", f"dissolve {k}/10 {sa} > {sb} w{w}", _timeline(at, k, w, h), cut=False,
                            motion=max(sa.motion, sb.motion)))
    fades = [("to black", 0, centred("bigbuckbunny", 20, 1, 640, 360, dx=-12, travel=10), (4,) if quick else (0, 4, 9)),
             ("from black", 0, Shot("bikes", 230, 1, 0, 0), (0,) if quick else (0, 5, 9)),
             ("to white", 255, centred("bigbuckbunny", 100, 1, 640, 360, dy=8, travel=10), (9,) if quick else (0, 5, 9))]
    for kind, level, shot, steps in fades:
        w, h = (640, 272) if shot.stem == "bikes" else (640, 360)
        shot.image()
        for k in steps:
            def at(t, shot=shot, w=w, h=h, level=level, into=kind != "from black"):
                return mix(shot.window(t, w, h), level, t / 10 if into else 1 - t / 10)
            out.append(Case("fade", f"fade {kind} {k}/10 {shot} w{w}", _timeline(at, k, w, h), cut=False,
                            motion=shot.motion))
    return out


def pan_case(family: str, label: str, shot: Shot, width: int, height: int) -> Case:
    """A :func:`synthetic.pan` of ``shot`` (windows at t = 0, 0.5, 1) named
    ``"{family} {label} {shot}"``."""
    clip = synthetic.pan(still_clip(shot.stem, shot.frame, shot.scale), width, height,
                         (shot.dx // 2, shot.dy // 2), 3, start=(shot.x, shot.y))
    return Case(family, f"{family} {label} {shot}", clip, cut=False, motion=shot.motion)


def _pans(family: str, combos, sources) -> list[Case]:
    """Pans for (pixels, direction, source key) ``combos``; ``sources[key]`` = (stem, frame,
    scale, width, height). Directions alternate in sign; the paths vary in place."""
    out = []
    for i, (d, direction, key) in enumerate(combos):
        stem, n, scale, w, h = sources[key]
        ux, uy = DIRECTIONS[direction]
        sign = -1 if i % 2 else 1
        shot = centred(stem, n, scale, w, h, sign * ux * d, sign * uy * d, shift=((0.37 * i) % 1, (0.61 * i) % 1))
        out.append(pan_case(family, f"{d}px {direction} w{w}", shot, w, h))
    return out


PAN_SPEEDS = (16, 32, 48, 64, 96, 128, 160, 200, 240)
LARGE_SPEEDS = (8, 16, 32, 48, 64, 96, 128, 160, 200, 240)


def pan_cases(quick: bool) -> list[Case]:
    """Windows of bigbuckbunny frame 60 panning 16-240 px per pair, horizontal, vertical
    and diagonal (``d`` px along each moving axis), 640x360 (from the 1280x720 frame) and
    1280x720 (from the frame upscaled 2x)."""
    sources = {640: ("bigbuckbunny", 60, 1, 640, 360), 1280: ("bigbuckbunny", 60, 2, 1280, 720)}
    if quick:
        combos = [(16, "horizontal", 640), (64, "diagonal", 640), (160, "vertical", 640),
                  (240, "horizontal", 1280), (96, "diagonal", 1280)]
    else:
        combos = [(d, dr, w) for w in (640, 1280) for d in PAN_SPEEDS for dr in DIRECTIONS]
    return _pans("pan", combos, sources)


def large_motion_cases(quick: bool) -> list[Case]:
    """Pans of 8-240 px per pair for choosing the flow scale: 640 wide (bikes frame 160
    upscaled 2x, 640x272, horizontal; bigbuckbunny frame 100, 640x360, diagonal) and 1280
    wide (bigbuckbunny frame 100 upscaled 2x, 1280x720, horizontal and diagonal)."""
    sources = {("horizontal", 640): ("bikes", 160, 2, 640, 272), ("diagonal", 640): ("bigbuckbunny", 100, 1, 640, 360),
               ("horizontal", 1280): ("bigbuckbunny", 100, 2, 1280, 720),
               ("diagonal", 1280): ("bigbuckbunny", 100, 2, 1280, 720)}
    if quick:
        combos = [(8, "horizontal", 640), (32, "diagonal", 640), (96, "horizontal", 640),
                  (64, "diagonal", 1280), (240, "horizontal", 1280)]
    else:
        combos = [(d, dr, w) for (dr, w) in sources for d in LARGE_SPEEDS]
    return _pans("large-motion", [(d, dr, (dr, w)) for d, dr, w in combos], sources)


def zoom_clip(stem: str, n: int, scale: int, width: int, height: int, ratio: float,
              centre: tuple[float, float] = (0.5, 0.5)) -> vs.VideoNode:
    """3 frames (width x height, zimg Spline36) of a crop of the frame shrinking (``ratio``
    > 1: zoom in by ``ratio`` from a to b) or growing (``ratio`` < 1) around a fixed point.
    The largest crop is 90 % of the frame (at the output aspect); ``centre`` places it.

    The middle crop's size is the mean of a's and b's: exact for a camera moving straight
    at a flat scene at constant speed; a zoom lens at a constant rate would give the
    harmonic mean instead (0.6 % smaller at 25 %, about 2 px at the edges of 640)."""
    src = still_clip(stem, n, scale)
    fw, fh = src.width, src.height
    big = min(fw * 0.9, fh * 0.9 * width / height)
    cx = big / 2 + (fw - big) * centre[0]
    bh = big * height / width
    cy = bh / 2 + (fh - bh) * centre[1]
    wa, wb = (big, big / ratio) if ratio > 1 else (big * ratio, big)
    frames = []
    for cw in (wa, (wa + wb) / 2, wb):
        ch = cw * height / width
        frames.append(core.resize.Spline36(src, width, height, src_left=cx - cw / 2, src_top=cy - ch / 2,
                                           src_width=cw, src_height=ch))
    return core.std.AssumeFPS(core.std.Splice(frames), fpsnum=25, fpsden=1)


def zoom_motion(width: int, height: int, ratio: float) -> float:
    """Largest displacement (px) of a :func:`zoom_clip` pair: a corner of the smaller crop."""
    r = ratio if ratio > 1 else 1 / ratio
    return math.hypot(width, height) / 2 * (1 - 1 / r)


def zoom_cases(quick: bool) -> list[Case]:
    """Zooms in and out by 5-25 % between a and b (the magnification of b over a is 1.05
    to 1.25, or its inverse) of bigbuckbunny frame 30 (640x360 from 1280x720) and of bikes
    frame 200 upscaled 2x (640x272). Approximate middle: see :func:`zoom_clip`."""
    sources = {"bigbuckbunny": (30, 1, 640, 360), "bikes": (200, 2, 640, 272)}
    if quick:
        combos = [(10, "in", "bigbuckbunny"), (25, "out", "bigbuckbunny"), (5, "in", "bikes"), (20, "out", "bikes")]
    else:
        combos = [(z, d, s) for s in sources for z in (5, 10, 15, 20, 25) for d in ("in", "out")]
    out = []
    for i, (z, d, stem) in enumerate(combos):
        n, scale, w, h = sources[stem]
        ratio = 1 + z / 100 if d == "in" else 1 / (1 + z / 100)
        centre = ((0.3 + 0.2 * i) % 1, (0.7 - 0.15 * i) % 1)
        clip = zoom_clip(stem, n, scale, w, h, ratio, centre)
        name = f"zoom {d} {z}% w{w} {stem}#{n}{'x2' if scale == 2 else ''} centre {centre[0]:.2f},{centre[1]:.2f}"
        out.append(Case("zoom", name, clip, cut=False, motion=zoom_motion(w, h, ratio)))
    return out


def shake_vectors(count: int, seed: int = 12) -> list[tuple[int, int]]:
    """``count`` random even (dx, dy) with 8 <= |dx|, |dy| <= 40 and random signs (fixed seed)."""
    rng = np.random.default_rng(seed)
    mags = rng.integers(4, 21, size=(count, 2)) * 2
    signs = rng.choice([-1, 1], size=(count, 2))
    return [(int(x), int(y)) for x, y in mags * signs]


def shake_cases(quick: bool) -> list[Case]:
    """Camera shake: a jump by a random even vector (8-40 px on both axes) between a and b
    (a pan, so the middle is the window at half the jump): bigbuckbunny frames 45 and 110
    (640x360) and bikes frame 120 (560x232 windows of the 640x272 frame)."""
    vectors = shake_vectors(12)
    sources = [("bigbuckbunny", 45, 640, 360), ("bikes", 120, 560, 232), ("bigbuckbunny", 110, 640, 360)]
    out = []
    for i, (dx, dy) in enumerate(vectors[:3] if quick else vectors):
        stem, n, w, h = sources[i % 3]
        shot = centred(stem, n, 1, w, h, dx, dy, shift=(0.5, 0.5))
        out.append(pan_case("shake", f"{abs(dx)}x{abs(dy)}px w{w}", shot, w, h))
    return out


FLASH_KINDS = {"gain 1.3": ("gain", 1.3), "gain 0.7": ("gain", 0.7), "offset +40": ("offset", 40.0),
               "flash white 50%": ("white", 0.5)}


def _brighten(arr: np.ndarray, kind: str, amount: float) -> np.ndarray:
    """``arr`` with a brightness change of ``amount`` (gain factor, code offset or white mix
    weight) applied, rounded and clipped to uint8."""
    x = arr.astype(np.float64)
    y = x * amount if kind == "gain" else x + amount if kind == "offset" else (1 - amount) * x + amount * 255
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def flash_cases(quick: bool) -> list[Case]:
    """Brightness steps (gain x1.3 and x0.7, +40 codes) and a flash (50 % mix with white)
    between a and b on one still frame or an 8 px pan. Middle: half the change (gain 1.15,
    +20, 25 % white) on the window at half the pan; ``truth`` is True for the steps (exact
    for a linear exposure ramp) and False for the flash (a real flash has no middle)."""
    sources = [("bigbuckbunny", 75, 640, 360), ("bikes", 180, 600, 256)]
    combos = [(k, s, pan) for s in range(2) for k in FLASH_KINDS for pan in (0, 8)]
    if quick:
        combos = [("gain 1.3", 0, 0), ("gain 0.7", 1, 8), ("offset +40", 0, 8), ("flash white 50%", 1, 0)]
    out = []
    for label, s, pan in combos:
        kind, amount = FLASH_KINDS[label]
        stem, n, w, h = sources[s]
        shot = centred(stem, n, 1, w, h, dx=pan)
        half = 1 + (amount - 1) / 2 if kind == "gain" else amount / 2
        frames = [shot.window(t, w, h) for t in (0, 0.5, 1)]
        steps = [(kind, 1.0 if kind == "gain" else 0.0), (kind, half), (kind, amount)]
        clip = lazy_clip(lambda i, frames=frames, steps=steps: _brighten(frames[i], *steps[i]), w, h)
        what = "pan 8px" if pan else "still"
        out.append(Case("flash", f"flash {label} {what} w{w} {shot}", clip, cut=False, motion=shot.motion,
                        truth=kind != "white"))
    return out


def _ellipse(w: int, h: int) -> np.ndarray:
    """Bool (h, w) filled ellipse touching the edges."""
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2 <= 1


def _object_frames(bg, patch: np.ndarray, shape: np.ndarray, start: tuple[int, int],
                   d: tuple[int, int]) -> list[np.ndarray]:
    """``bg`` (a (3, H, W) frame, or (shot, (width, height)): the panning window of a
    :class:`Shot`) with ``patch`` (3, h, w) pasted where ``shape`` (bool (h, w)) holds, its
    top-left at ``start`` + t ``d`` for t = 0, 0.5, 1 (hard edges: an exact middle)."""
    out = []
    ph, pw = shape.shape
    for t in (0, 0.5, 1):
        x, y = start[0] + int(t * d[0]), start[1] + int(t * d[1])
        f = bg.copy() if isinstance(bg, np.ndarray) else bg[0].window(t, *bg[1]).copy()
        region = f[:, y:y + ph, x:x + pw]
        region[:, shape] = patch[:, shape]
        out.append(f)
    return out


def object_cases(quick: bool) -> list[Case]:
    """A large object crossing a static real background at 32-96 px per pair, horizontally
    or diagonally (half as much down): a 212x160 real patch (about a third of the 640 width)
    from another clip, a rectangle or an ellipse with hard edges, so the middle is exact.
    And over a panning background: the object still in the frame (a subject the camera
    follows) or crossing against the pan (not in the quick set)."""
    backgrounds = [Shot("bigbuckbunny", 90, 1, 300, 200), Shot("bikes", 220, 1, 0, 0)]
    sizes = [(640, 360), (640, 272)]
    patches = [("bikes", 70, 1, 110, 70), ("carphone_pristine", 50, 2, 50, 30)]  # taxi sign; face (upscaled 2x)
    combos = [(d, diag, b) for b in range(2) for d in (32, 48, 64, 96) for diag in (False, True)]
    if quick:
        combos = [(32, False, 0), (64, True, 1), (96, False, 0)]
    out = []
    for i, (d, diag, b) in enumerate(combos):
        w, h = sizes[b]
        bg = backgrounds[b].window(0, w, h)
        stem, n, scale, px, py = patches[i % 2]
        patch = image(stem, n, scale)[:, py:py + 160, px:px + 212]
        shape = _ellipse(212, 160) if (i // 2) % 2 else np.ones((160, 212), bool)
        vec = (d, d // 2 if diag else 0)
        start = ((w - 212 - vec[0]) // 2, (h - 160 - vec[1]) // 2)
        frames = _object_frames(bg, patch, shape, start, vec)
        form = "ellipse" if (i // 2) % 2 else "rectangle"
        name = (f"object {d}px {'diagonal' if diag else 'horizontal'} {form} {stem}#{n}{'x2' if scale == 2 else ''} over "
                f"{backgrounds[b]} w{w}")
        out.append(Case("object", name, array_clip(frames), cut=False, motion=math.hypot(*vec)))
    pans = [(Shot("bigbuckbunny", 90, 1, 200, 150, 32, 0), (640, 360)), (Shot("bikes", 220, 2, 100, 80, 24, -24), (640, 272))]
    moving = [] if quick else [(shot, size, vec) for shot, size in pans for vec in ((0, 0), (-48, 24))]
    for j, (shot, (w, h), vec) in enumerate(moving):
        stem, n, scale, px, py = patches[j % 2]
        patch = image(stem, n, scale)[:, py:py + 160, px:px + 212]
        shape = _ellipse(212, 160) if j % 2 else np.ones((160, 212), bool)
        start = ((w - 212 - vec[0]) // 2, (h - 160 - vec[1]) // 2)
        frames = _object_frames((shot, (w, h)), patch, shape, start, vec)
        what = "still in the frame" if vec == (0, 0) else f"{abs(vec[0])}px diagonal"
        name = (f"object {what} {'ellipse' if j % 2 else 'rectangle'} {stem}#{n}{'x2' if scale == 2 else ''} over "
                f"pan {shot} w{w}")
        motion = max(math.hypot(*vec), shot.motion)
        out.append(Case("object", name, array_clip(frames), cut=False, motion=motion))
    return out

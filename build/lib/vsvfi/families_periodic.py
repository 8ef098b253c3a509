"""The periodic family of :mod:`vsvfi.families`: stripes, checkers and a tiled real patch
moving by a fraction or a whole multiple of their period between a and b (the classic
trap for flow estimators: several matches look equally good; at whole periods a == b).

Stripes and checkers are area-sampled (each pixel holds the covered fraction of the
pattern, as an ideal camera would see it), so a shift by any real number of pixels, and
with it the middle frame at half a shift, is exact. The tiled patch moves by whole pixels
(only even shifts are made).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from . import synthetic
from .families_common import Case, Shot, centred, lazy_clip, still_clip
from .frames import frame_array

PERIODS = (8, 12, 16, 24, 32)
FRACTIONS = (0.25, 0.5, 0.75, 1, 2)
W, H = 640, 360
REGION = (160, 90, 320, 180)  # x, y, w, h of the pattern in the region layouts
TILE_SOURCE = ("bigbuckbunny", 60, 992, 544)  # real grass patch: stem, frame, x, y (period x period)


def square_cover(n: int, period: float, phase: float) -> np.ndarray:
    """Float (n,): the fraction of pixel [i, i + 1) covered by the "on" half of a square
    wave of ``period`` px shifted right by ``phase`` px (on where (x - phase) mod period <
    period / 2)."""
    def integral(x):
        return np.floor(x / period) * period / 2 + np.minimum(np.mod(x, period), period / 2)

    x = np.arange(n, dtype=np.float64) - phase
    return integral(x + 1) - integral(x)


def stripes(width: int, height: int, period: int, shift: float) -> np.ndarray:
    """(3, height, width) uint8 vertical stripes (16 and 240), moved right by ``shift`` px."""
    cover = np.broadcast_to(square_cover(width, period, shift)[None, :], (height, width))
    return np.clip(np.rint(16 + 224 * cover), 0, 255).astype(np.uint8)[None].repeat(3, 0)


def checkers(width: int, height: int, period: int, shift: float) -> np.ndarray:
    """(3, height, width) uint8 checkers (squares of period / 2 px, dark blue and yellow),
    moved right by ``shift`` px (half a period later they are inverted; a diagonal move by
    half a period would give the same picture)."""
    cx = square_cover(width, period, shift)[None, :]
    cy = square_cover(height, period, 0)[:, None]
    cover = cx * (1 - cy) + (1 - cx) * cy  # area of the "on" squares (x xor y)
    lo, hi = np.array([30, 40, 140.0]), np.array([235, 205, 50.0])
    out = lo[:, None, None] + (hi - lo)[:, None, None] * cover[None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@lru_cache(maxsize=None)
def tiled_image(period: int) -> np.ndarray:
    """(3, H + 2 period, W + 2 period) uint8: the real period x period patch
    :data:`TILE_SOURCE` tiled (:func:`synthetic.tiled`)."""
    stem, n, x, y = TILE_SOURCE
    img = synthetic.tiled(still_clip(stem, n), (x, y, period, period), W + 2 * period, H + 2 * period)
    return frame_array(img.get_frame(0))


def tiles(width: int, height: int, period: int, shift: float) -> np.ndarray:
    """(3, height, width) uint8 window of :func:`tiled_image` moved right and down by whole
    ``shift`` px."""
    s = int(shift)
    if s != shift:
        raise ValueError(f"tiled patterns move by whole pixels, not {shift}")
    return tiled_image(period)[:, 2 * period - s:2 * period - s + height, 2 * period - s:2 * period - s + width]


PATTERNS = {"stripes": (stripes, (1, 0)), "checkers": (checkers, (1, 0)), "tiled": (tiles, (1, 1))}


def _layouts() -> list[tuple[str, Shot | None]]:
    """(label, background shot or None for the full-frame pattern); the region layouts
    put the pattern (fixed in place, moving inside) over a static or a panning real frame."""
    x, y, w, h = REGION
    still = Shot("bigbuckbunny", 40, 1, 400, 250)
    moving = centred("bikes", 160, 2, W, H, dx=24)
    return [("full frame", None), (f"region {w}x{h}@{x},{y} over static {still}", still),
            (f"region {w}x{h}@{x},{y} over pan {moving}", moving)]


def _frame(draw, period: int, d: float, bg: Shot | None, t: float) -> np.ndarray:
    """Frame at time t (0, 0.5, 1): the pattern moved by t d over the layout's background."""
    if bg is None:
        return draw(W, H, period, t * d)
    x, y, w, h = REGION
    out = bg.window(t, W, H).copy()
    out[:, y:y + h, x:x + w] = draw(w, h, period, t * d)
    return out


def periodic_cases(quick: bool) -> list[Case]:
    """Patterns of periods 8-32 px moving 0.25, 0.5, 0.75, 1 or 2 periods per pair: stripes
    and checkers (horizontally) and a tiled real patch (diagonally: that much on both axes;
    only even shifts), full frame or in a region over a static or panning real background
    (the layouts take turns)."""
    layouts = _layouts()
    if quick:
        combos = [("stripes", 8, 0.25, 0), ("stripes", 12, 0.75, 2), ("stripes", 24, 1, 1), ("checkers", 16, 1, 1),
                  ("checkers", 32, 0.5, 0), ("tiled", 24, 0.5, 2), ("tiled", 16, 2, 0)]
    else:
        combos = [(pat, p, f) for pat in PATTERNS for p in PERIODS for f in FRACTIONS
                  if pat != "tiled" or (p * f) % 2 == 0]
        combos = [(pat, p, f, i % 3) for i, (pat, p, f) in enumerate(combos)]
    out = []
    for pat, p, f, lay in combos:
        draw, (ux, uy) = PATTERNS[pat]
        label, bg = layouts[lay]
        if bg is not None:
            bg.image()  # decode now, not inside a frame request
        if pat == "tiled":
            tiled_image(p)
        d = p * f
        clip = lazy_clip(lambda n, draw=draw, p=p, d=d, bg=bg: _frame(draw, p, d, bg, n / 2), W, H)
        motion = max(math.hypot(ux * d, uy * d), bg.motion if bg else 0.0)
        direction = "diagonal" if uy else "horizontal"
        out.append(Case("periodic", f"periodic {pat} period {p}px moves {f:g} period ({d:g}px {direction}) {label} w{W}",
                        clip, cut=False, motion=motion))
    return out

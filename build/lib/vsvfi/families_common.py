"""Shared pieces of the generated test-case families (:mod:`vsvfi.families`): the
:class:`Case` record, decoded real source frames (cached), :class:`Shot` (a window moving
over a real frame) and clips made of numpy frames.

Arrays are RGB24 as numpy ``uint8`` of shape (3, H, W) (planes R, G, B) unless said
otherwise; positions and sizes are pixels, x before y.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import vapoursynth as vs

from . import assets, synthetic
from .frames import frame_array, write_planes

core = vs.core

FAMILIES = ("cut", "fade", "pan", "zoom", "shake", "flash", "object", "overlay", "periodic", "large-motion")


@dataclass(frozen=True)
class Case:
    """One generated pair with its middle frame.

    ``clip`` is RGB24 with exactly 3 frames: source frame a, the middle frame (t = 0.5) and
    source frame b. ``motion`` is the largest displacement of any picture content between
    a and b (pixels at this clip's size; the length of the vector for diagonal motion).
    ``mask`` (overlay family): bool (H, W), the overlays' bounding boxes grown by 2 px.
    ``opaque`` (overlay family): bool (H, W), the overlay pixels that are identical on a,
    middle and b by construction (fully opaque and not a changing timecode digit).
    ``truth`` is False when the middle frame is only a plausible stand-in (cuts: a copy of
    a; flashes: half the flash).
    """

    family: str
    name: str
    clip: vs.VideoNode
    cut: bool
    motion: float
    mask: np.ndarray | None = None
    truth: bool = True
    opaque: np.ndarray | None = None


def still_clip(stem: str, n: int, scale: int = 1) -> vs.VideoNode:
    """Frame ``n`` of sample ``stem`` as a 1-frame RGB24 clip (:func:`synthetic.still`),
    upscaled ``scale`` times with bicubic resampling when ``scale`` > 1 (cached per core)."""
    return _still_clip(stem, n, scale, vs.core.core)


@lru_cache(maxsize=None)
def _still_clip(stem: str, n: int, scale: int, _core) -> vs.VideoNode:
    clip = synthetic.still(str(assets.fetch(assets.SAMPLES[stem])), n)
    if scale != 1:
        clip = core.resize.Bicubic(clip, clip.width * scale, clip.height * scale)
    return clip


@lru_cache(maxsize=None)
def image(stem: str, n: int, scale: int = 1) -> np.ndarray:
    """:func:`still_clip` as a read-only (3, H, W) uint8 array (decoded once)."""
    arr = frame_array(still_clip(stem, n, scale).get_frame(0))
    arr.flags.writeable = False
    return arr


_SHOT = re.compile(r"(\w+)#(\d+)(?:x(\d+))?@(-?\d+),(-?\d+)\+(-?\d+),(-?\d+)")


@dataclass(frozen=True)
class Shot:
    """A window moving in a straight line over a real frame: at time t (in pairs: a is
    t = 0, b is t = 1) the window's top-left corner is (x + t dx, y + t dy) in the frame
    of sample ``stem`` (frame ``frame``, upscaled ``scale`` times).

    Written as ``stem#frame[xscale]@x,y+dx,dy`` in case names (:func:`parse_shot`)."""

    stem: str
    frame: int
    scale: int
    x: int
    y: int
    dx: int = 0
    dy: int = 0

    def __str__(self) -> str:
        up = f"x{self.scale}" if self.scale != 1 else ""
        return f"{self.stem}#{self.frame}{up}@{self.x},{self.y}+{self.dx},{self.dy}"

    @property
    def motion(self) -> float:
        return math.hypot(self.dx, self.dy)

    def image(self) -> np.ndarray:
        return image(self.stem, self.frame, self.scale)

    def window(self, t: float, width: int, height: int) -> np.ndarray:
        """(3, height, width) uint8 view of the window at time ``t``; raises ValueError when
        the position is not whole pixels or the window leaves the frame."""
        fx, fy = self.x + t * self.dx, self.y + t * self.dy
        x, y = int(round(fx)), int(round(fy))
        img = self.image()
        if x != fx or y != fy:
            raise ValueError(f"{self}: window at t={t} is at ({fx}, {fy}), not whole pixels")
        if x < 0 or y < 0 or x + width > img.shape[2] or y + height > img.shape[1]:
            raise ValueError(f"{self}: {width}x{height} window at ({x}, {y}) leaves {img.shape[2]}x{img.shape[1]}")
        return img[:, y:y + height, x:x + width]

    def triple(self, width: int, height: int) -> list[np.ndarray]:
        """The windows at t = 0, 0.5 and 1 (a, middle, b)."""
        return [self.window(t, width, height) for t in (0, 0.5, 1)]


def parse_shot(text: str) -> Shot:
    """The first :class:`Shot` written in ``text`` (a case name)."""
    m = _SHOT.search(text)
    if not m:
        raise ValueError(f"no shot in {text!r}")
    stem, n, scale, x, y, dx, dy = m.groups()
    return Shot(stem, int(n), int(scale or 1), int(x), int(y), int(dx), int(dy))


def centred(stem: str, n: int, scale: int, width: int, height: int, dx: int = 0, dy: int = 0,
            travel: float = 1.0, shift: tuple[float, float] = (0.5, 0.5)) -> Shot:
    """A :class:`Shot` whose windows (width x height) over times 0..``travel`` stay inside
    the frame; ``shift`` places the whole path in the free room (0: left/top, 1: right/bottom)."""
    h, w = image(stem, n, scale).shape[1:]
    span_x, span_y = abs(dx) * travel, abs(dy) * travel
    room_x, room_y = w - width - span_x, h - height - span_y
    if room_x < 0 or room_y < 0:
        raise ValueError(f"{width}x{height} moving ({dx}, {dy}) x {travel} does not fit {w}x{h}")
    x = int(room_x * shift[0]) + (int(span_x) if dx < 0 else 0)
    y = int(room_y * shift[1]) + (int(span_y) if dy < 0 else 0)
    return Shot(stem, n, scale, x, y, dx, dy)


def lazy_clip(make: Callable[[int], np.ndarray], width: int, height: int, frames: int = 3,
              fps: int = 25, fmt: int = vs.RGB24) -> vs.VideoNode:
    """A clip (RGB24, or ``fmt``) whose frame n is ``make(n)`` ((planes, height, width) in
    the format's sample type), computed when the frame is requested (``make`` must not
    request VapourSynth frames)."""
    blank = core.std.BlankClip(format=fmt, width=width, height=height, length=frames,
                               fpsnum=fps, fpsden=1)

    def fill(n, f):
        out = f.copy()
        write_planes(out, make(n))
        return out

    return core.std.ModifyFrame(blank, blank, fill)


def array_clip(frames: Sequence[np.ndarray], fps: int = 25, fmt: int = vs.RGB24) -> vs.VideoNode:
    """A clip (RGB24, or ``fmt``) of the (planes, H, W) arrays ``frames`` (kept by reference)."""
    frames = list(frames)
    h, w = frames[0].shape[1:]
    return lazy_clip(lambda n: frames[n], w, h, len(frames), fps, fmt)


def mix(a: np.ndarray, b: np.ndarray | float, w: float) -> np.ndarray:
    """``(1 - w) a + w b`` rounded to uint8 (``b`` may be a constant, e.g. 0 or 255)."""
    out = (1.0 - w) * np.asarray(a, np.float64) + w * np.asarray(b, np.float64)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def resample(arr: np.ndarray, width: int, height: int,
             src: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """``arr`` (3, H, W) uint8 resampled (zimg Spline36) to (3, height, width); ``src`` =
    (left, top, width, height) is the source rectangle (sub-pixel), default all of it."""
    clip = array_clip([np.ascontiguousarray(arr)])
    left, top, sw, sh = src if src is not None else (0, 0, arr.shape[2], arr.shape[1])
    out = core.resize.Spline36(clip, width, height, src_left=left, src_top=top, src_width=sw, src_height=sh)
    return frame_array(out.get_frame(0))


def fit(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    """``arr`` cropped around its centre to the aspect of width x height, then resampled
    to (3, height, width)."""
    h, w = arr.shape[1:]
    if w * height > h * width:  # too wide: crop the sides
        cw, ch = h * width / height, h
    else:
        cw, ch = w, w * height / width
    return resample(arr, width, height, ((w - cw) / 2, (h - ch) / 2, cw, ch))

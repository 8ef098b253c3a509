"""Static-overlay masks for soft frames 1280 px wide and up, for the filter.

The protection (:mod:`vsvfi.protect`) was tuned at 640x360, its radii and contrast tests are in
pixels. On a frame upscaled 2x or 3x every edge, and every anti-aliased edge of a subtitle, is
2-3 pixels of mixed colours, and the full-size masks keep only part of the text
(docs/protection.md, "Upscaled frames"). On such frames :func:`masks` extends what the
full-size masks found with the masks made on the pair averaged down to about 640 px wide and
repeated up: only their parts that reach an overlay found at full size, so real footage
without overlays keeps its full-size masks (about 1 % of its pixels would be painted out
otherwise).

Softness is read from the frame (:func:`sharpness`), not from its size: a frame sharp at its
own size (bigbuckbunny at 1280x720, overlays drawn at 1080p) keeps the full-size masks alone.

Frames are float32 (3, H, W) RGB in [0, 1].
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .encoded import SHARE_WIDTH, averaged
from .protect import DEFAULT, Masks, Protection, masks_and_motion
from .see_through import HighPass

#: :func:`sharpness` below which a frame w >= 2 * SHARE_WIDTH pixels wide counts as soft. Sharp
#: frames at their size read 0.81-0.89 (bigbuckbunny 1280x720), 1.5x upscales 0.56-0.61 and
#: 2x-3x upscales (bicubic) 0.36-0.72 (docs/sharpness.md).
SOFT = 0.75
#: The averaged masks are kept in connected parts (8-connected after a dilation of this many
#: pixels of the averaged frame, so the letters of one line form one part) that hold an
#: overlay pixel of the full-size masks.
REACH = 4


def sharpness(img: np.ndarray, f: int) -> float:
    """How much of the frame's gradient energy survives at full size against the frame
    block-averaged ``f`` times (f >= 2): ``f`` x mean squared neighbour difference of ``img``
    (float32 (3, H, W), channels averaged) over that of the averaged frame. A step edge
    one pixel wide reads 1, the same edge spread over ``f`` pixels (an ``f`` x upscale)
    about 1 / ``f``. 0 for a flat frame."""
    def energy(y: np.ndarray) -> float:
        return float(np.square(np.diff(y, axis=0)).mean() + np.square(np.diff(y, axis=1)).mean())

    small = energy(averaged(img, f).mean(axis=0))
    return f * energy(img.mean(axis=0)) / small if small > 0 else 0.0


def masks(img0: np.ndarray, img1: np.ndarray, params: Protection = DEFAULT, codec: bool = True,
          highpass: HighPass | None = None) -> Masks:
    """:func:`vsvfi.protect.masks_and_motion` of the pair, extended on soft frames (``img0``'s
    :func:`sharpness` below :data:`SOFT`) w >= 1280 px wide whose full-size masks found an
    overlay: the masks of the pair averaged ``f = w // 640`` times, kept in the parts that
    reach such an overlay (:data:`REACH`) and repeated up, joined by per-pixel maximum (static,
    overlay, kept and layer masks); the shifts of both (the small ones times ``f``); the
    full-size frame's motion groups. Arguments and result as
    :func:`~vsvfi.protect.masks_and_motion` (``highpass``: the full-size pair's). Frames under
    8 f rows keep the full-size masks."""
    m = masks_and_motion(img0, img1, params, codec, highpass)
    h, w = img0.shape[1:]
    f = w // SHARE_WIDTH
    if f < 2 or h < 8 * f or not (m.overlay > 0).any() or sharpness(img0, f) >= SOFT:
        return m
    s = masks_and_motion(averaged(img0, f), averaged(img1, f), params, codec)
    sh, sw = s.static.shape
    found = (m.overlay[:sh * f, :sw * f] > 0).reshape(sh, f, sw, f).any(axis=(1, 3))
    near = ndimage.binary_dilation((s.static > 0) | (s.overlay > 0) | (s.keep > 0), iterations=REACH)
    parts, _ = ndimage.label(near, structure=np.ones((3, 3), bool))
    hit = np.unique(parts[found])
    kept = np.isin(parts, hit[hit > 0]).astype(np.float32)

    def up(x: np.ndarray) -> np.ndarray:
        x = np.repeat(np.repeat(x * kept, f, axis=0), f, axis=1)
        return np.pad(x, ((0, h - x.shape[0]), (0, w - x.shape[1])), mode="edge")

    shifts = list(dict.fromkeys([*m.shifts, *((dy * f, dx * f) for dy, dx in s.shifts)]))
    return Masks(*(np.maximum(a, up(b)) for a, b in zip(m[:3], s[:3])), shifts,
                 np.maximum(m.layer_keep, up(s.layer_keep)), m.groups)

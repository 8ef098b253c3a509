"""Static overlays against the pair's motion: what the background hidden under an overlay
looks like, read from the other source frame where the motion uncovers it.

Two steps of the static-overlay protection (:mod:`vsvfi.protect`) use it, both with the
pair's dominant motions (whole-pixel shifts v, with I1(x + v) = I0(x) for what moved by v):

- :func:`paint`: the overlay is painted out of each frame before the network runs. Where
  the other frame shows the background that the overlay hides (at x + v, and not under the
  overlay there), that background goes in; elsewhere the box fill of :func:`vsvfi.protect.fill`.
  The shift is the one that carries the overlay's unmasked surroundings best. The network
  then sees one moving background instead of a blurred hole, and interpolates the
  surroundings of the overlay as it does the rest of the picture.
- :func:`unmix`: where the blend goes in (the overlay and its soft, shaded or
  semi-transparent edge), each pixel is modelled as I = P + k B: a static layer P over the
  moving background B seen through a factor k in [0, 1] (k = 0: opaque; a drop shadow or an
  anti-aliased edge: in between). B at x is read from the other frame along the motion,
  k is fitted on the pair (I0 - I1 = k (B0 - B1)), and the output is P + k B at the
  timestep: the blend where k = 0, the moving background where k = 1.

Both fall back to what the protection did before (box fill, blend) wherever the motion does
not explain the surroundings (zooms, a background that is not a shift) or the background
is hidden in both frames. Measured on the overlay, periodic and object families in
docs/protection.md.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .protect import fill, smoothstep

#: :func:`paint`: radius (pixels) of the surroundings a shift must carry, and the ramp of
#: their mean largest channel difference (0..1) from fully trusted to not at all.
PAINT_RADIUS = 6
PAINT_FIT = (0.03, 0.06)
#: :func:`unmix`: ramp of the largest channel residual (0..1) of I = P + k B on the pair
#: from fully trusted to not at all.
UNMIX_FIT = (0.02, 0.05)


def _sample(img: np.ndarray, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``img`` (3, H, W) at float positions (y, x), bilinear, float32 (3, N); and whether
    each position lies inside the frame."""
    h, w = img.shape[1:]
    inside = (y >= 0) & (y <= h - 1) & (x >= 0) & (x <= w - 1)
    y, x = np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)
    y0, x0 = np.floor(y).astype(np.intp), np.floor(x).astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (y - y0).astype(np.float32), (x - x0).astype(np.float32)
    top = img[:, y0, x0] * (1 - fx) + img[:, y0, x1] * fx
    bottom = img[:, y1, x0] * (1 - fx) + img[:, y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32, copy=False), inside


def _flag(mask: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``mask`` (H, W, bool) at the nearest pixel to (y, x), False outside the frame."""
    h, w = mask.shape
    yi, xi = np.rint(y).astype(np.intp), np.rint(x).astype(np.intp)
    inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
    return inside & mask[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]


def _bounds(mask: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    rows, cols = (np.nonzero(mask.any(axis=k))[0] for k in (1, 0))
    if not rows.size:
        return None
    h, w = mask.shape
    return (slice(max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)))


def paint(img: np.ndarray, other: np.ndarray, mask: np.ndarray, shifts: list[tuple[int, int]],
          radius: int) -> np.ndarray:
    """``img`` (float (3, H, W) in [0, 1]) with its ``mask``-ed pixels (float32 (H, W) in
    [0, 1]: the overlay) painted out: where a shift s of ``shifts`` ((dy, dx) pixels)
    carries ``img``'s unmasked surroundings (within :data:`PAINT_RADIUS`) to ``other`` (the
    pair's other source frame), the masked pixel gets ``other`` at x + s if that is inside
    the frame and not masked; elsewhere, and where no shift fits within :data:`PAINT_FIT`,
    :func:`vsvfi.protect.fill` with ``radius``. Returns a new array of ``img``'s dtype."""
    base = fill(img, mask, radius)
    box = _bounds(mask > 0, PAINT_RADIUS)
    if box is None or not shifts:
        return base
    h, w = mask.shape
    yy, xx = np.mgrid[box]
    masked = mask[box] > 0
    here = img[(slice(None), *box)].astype(np.float32, copy=False)
    clean = (~masked).astype(np.float32)
    best = np.full(masked.shape, np.inf, np.float32)
    value = base[(slice(None), *box)].astype(np.float32)
    for dy, dx in shifts:
        y, x = yy + dy, xx + dx
        inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        yc, xc = np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)
        there = other[:, yc, xc].astype(np.float32, copy=False)
        seen = (clean * inside).astype(np.float32)
        err = np.abs(here - there).max(axis=0) * seen
        size = 2 * PAINT_RADIUS + 1
        count = ndimage.uniform_filter(seen, size, mode="constant")
        local = np.where(count > 0.1, ndimage.uniform_filter(err, size, mode="constant") / np.maximum(count, 1e-6),
                         np.inf)
        use = masked & inside & (mask[yc, xc] == 0) & (local < best)
        best = np.where(use, local, best)
        value = np.where(use[None], there, value)
    trust = smoothstep(best, PAINT_FIT[1], PAINT_FIT[0]) * mask[box]
    out = base.copy()
    part = out[(slice(None), *box)].astype(np.float32)
    out[(slice(None), *box)] = part + (value - part) * trust
    return out


def unmix(frame: np.ndarray, img0: np.ndarray, img1: np.ndarray, t: float, keep: np.ndarray,
          shifts: list[tuple[int, int]]) -> np.ndarray:
    """``frame`` (3, H, W; the output after :meth:`vsvfi.protect.Protection.combine`, which
    put the blend of ``img0`` and ``img1`` in with weight ``keep``) with that blend replaced,
    with the same weight, by P + k B(t): per ``keep`` pixel x and shift v of ``shifts``,
    B0 = I1(x + v), B1 = I0(x - v) (the background that the motion brings there, where
    neither is itself kept), k = <I0 - I1, B0 - B1> / |B0 - B1|² clipped to [0, 1],
    P = the mean of I0 - k B0 and I1 - k B1; the shift with the smallest residual is taken,
    trusted by :data:`UNMIX_FIT`. B(t) is I0(x - t v) and I1(x + (1 - t) v) (bilinear; the
    mean of those not kept), or (B0 + B1) / 2. Returns float32: ``frame`` itself, changed
    in place, when it is float32 (the filter passes combine's fresh output), else a copy."""
    ys, xs = np.nonzero(keep > 0)
    if not ys.size or not shifts:
        return frame
    box = _bounds(keep > 0, 2)
    hidden = np.zeros(keep.shape, bool)
    hidden[box] = ndimage.binary_dilation(keep[box] > 0.5)  # overlay, not background
    a = img0[:, ys, xs].astype(np.float32)
    b = img1[:, ys, xs].astype(np.float32)
    blend = a * np.float32(1 - t) + b * np.float32(t)
    best = np.full(ys.shape, np.inf, np.float32)
    target = blend.copy()
    for dy, dx in shifts:
        b0, in0 = _sample(img1, ys + dy, xs + dx)
        b1, in1 = _sample(img0, ys - dy, xs - dx)
        usable = in0 & in1 & ~_flag(hidden, ys + dy, xs + dx) & ~_flag(hidden, ys - dy, xs - dx)
        di, db = a - b, b0 - b1
        k = np.clip((di * db).sum(axis=0) / ((db * db).sum(axis=0) + 1e-4), 0, 1)
        p = (a - k * b0 + b - k * b1) / 2
        residual = np.where(usable, np.abs(di - k * db).max(axis=0) / 2, np.inf)
        y0, x0, y1, x1 = ys - t * dy, xs - t * dx, ys + (1 - t) * dy, xs + (1 - t) * dx
        s0, ok0 = _sample(img0, y0, x0)
        s1, ok1 = _sample(img1, y1, x1)
        ok0 &= ~_flag(hidden, y0, x0)
        ok1 &= ~_flag(hidden, y1, x1)
        seen = (ok0.astype(np.float32) + ok1)[None]
        bt = np.where(seen > 0, (s0 * ok0 + s1 * ok1) / np.maximum(seen, 1), (b0 + b1) / 2)
        better = residual < best
        best = np.where(better, residual, best)
        target = np.where(better[None], p + k * bt, target)
    weight = keep[ys, xs] * smoothstep(best, UNMIX_FIT[1], UNMIX_FIT[0])
    out = frame if frame.dtype == np.float32 else frame.astype(np.float32)
    out[:, ys, xs] += (target - blend) * weight
    return out

"""Static overlays against the pair's motion: what the background hidden under an overlay
looks like, read from the other source frame where the motion uncovers it.

Three steps of the static-overlay protection (:mod:`vsvfi.protect`) use it, all with the
pair's dominant motions (whole-pixel shifts v, with I1(x + v) = I0(x) for what moved by v):

- :func:`darkened`: pixels near an overlay that are darker in both frames than the motion
  says, by one factor (a drop shadow, a dark outline's soft edge): the blend goes in there.

- :func:`paint`: the overlay is painted out of each frame before the network runs. Where
  the other frame shows the background that the overlay hides (at x + v, and not under the
  overlay there), that background goes in; elsewhere the box fill of :func:`vsvfi.neighbourhood.fill`.
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

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .neighbourhood import fill, smoothstep
from .neighbourhood import sample as _sample

#: :func:`paint`: radius (pixels) of the surroundings a shift must carry, and the ramp of
#: their mean largest channel difference (0..1) from fully trusted to not at all.
PAINT_RADIUS = 6
PAINT_FIT = (0.03, 0.06)
#: :func:`paint` measures the surroundings on every ``PAINT_STRIDE``-th pixel of each row
#: and column (the mean over a window is smooth; scattered overlay seeds in a still shot's
#: codec noise would otherwise cost a full-frame pass per shift).
PAINT_STRIDE = 3
#: :func:`paint` leaves an overlay pixel in where its surroundings do not move: their mean
#: largest channel difference (0..1) between the two frames with no motion, from left in
#: fully to painted fully (``PAINT_STILL``), as far as they hold texture that a motion
#: would show (the same difference against their own frame moved ``PAINT_PROBE`` pixels
#: across or down, the smaller; ramp ``PAINT_TEXTURE``). The network drags an overlay
#: along the motion around it; with none around, the fill only misleads it.
PAINT_STILL = (0.02, 0.04)
PAINT_TEXTURE = (0.02, 0.04)
PAINT_PROBE = 3
#: :func:`unmix`: ramp of the largest channel residual (0..1) of I = P + k B on the pair
#: from fully trusted to not at all.
UNMIX_FIT = (0.02, 0.05)
#: :func:`layers`: ramp of how much better than the blend (residual |I0 - I1| / 2) the fit
#: must be; two frames that barely differ (a slow dissolve in a still shot) fit some layer
#: under any shift by chance.
UNMIX_GAIN = (0.01, 0.03)
#: :func:`layers`: ramp of the mean largest channel misfit (0..1) of the fitted shift on a
#: pixel's surroundings (as :data:`PAINT_FIT`), from fully trusted to not at all.
UNMIX_CARRY = (0.04, 0.08)


def darkened(img0: np.ndarray, img1: np.ndarray, box: tuple[slice, slice], where: np.ndarray,
             shifts: list[tuple[int, int]], shade: tuple[float, float], shade_fit: tuple[float, float]) -> np.ndarray:
    """float32 over ``box``, computed on the ``where`` pixels of it (0 elsewhere): pixels
    darker in both frames than the motion says they should be, by one factor: a drop
    shadow, a dark outline's soft edge or a translucent dark box over the moving background
    (I = c B, c < 1, static). Per shift v of ``shifts``, c is read from the luma of I0 at x
    against I1 at x + v (where the background at x went) and of I1 at x against I0 at
    x - v; the shift where c times the moved colours fits both frames best (largest channel
    error) is taken. 1 where c is at most ``shade[0]`` and the fit within ``shade_fit[0]``
    (smoothsteps to ``shade[1]``, ``shade_fit[1]``; the static-overlay protection's
    :class:`vsvfi.protect.Protection` ``shade`` and ``shade_fit``)."""
    ys, xs = np.nonzero(where)
    out = np.zeros(where.shape, np.float32)
    if not ys.size:
        return out
    ys, xs = ys + box[0].start, xs + box[1].start
    h, w = img0.shape[1:]

    def at(img, dy, dx):  # img at the pixels moved by (dy, dx); outside the frame 2.0, fitting nothing
        y, x = ys + dy, xs + dx
        inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        return np.where(inside, img[:, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)], np.float32(2.0))

    a, b = at(img0, 0, 0), at(img1, 0, 0)
    la, lb = a.mean(axis=0), b.mean(axis=0)
    best = np.zeros(ys.shape, np.float32)
    fit = np.full(ys.shape, np.inf, np.float32)
    for dy, dx in shifts:
        went, came = at(img1, dy, dx), at(img0, -dy, -dx)
        c0 = la / np.maximum(went.mean(axis=0), 0.05)
        c1 = lb / np.maximum(came.mean(axis=0), 0.05)
        c = (c0 + c1) / 2
        err = np.maximum(np.abs(a - c * went).max(axis=0), np.abs(b - c * came).max(axis=0))
        better = err < fit
        fit = np.where(better, err, fit)
        best = np.where(better, smoothstep(np.maximum(c0, c1), shade[1], shade[0]), best)
    out[ys - box[0].start, xs - box[1].start] = best * smoothstep(fit, shade_fit[1], shade_fit[0])
    return out


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


class _Surroundings:
    """The :data:`PAINT_STRIDE` grid cells within about :data:`PAINT_RADIUS` pixels of the
    pixels (``ys``, ``xs``) of a ``mask``, and ``img`` (3, H, W) there, for :meth:`misfit`."""

    def __init__(self, img: np.ndarray, mask: np.ndarray, ys: np.ndarray, xs: np.ndarray):
        h, w = mask.shape
        step, reach = PAINT_STRIDE, -(-PAINT_RADIUS // PAINT_STRIDE)
        self.grid, self.size, self.cells = (-(-h // step), -(-w // step)), 2 * reach + 1, (ys // step, xs // step)
        cell = np.zeros(self.grid, bool)
        cell[self.cells] = True
        near = ndimage.binary_dilation(cell, iterations=reach, structure=np.ones((3, 3), bool))
        self.cy, self.cx = np.nonzero(near)
        self.py, self.px = np.minimum(self.cy * step + step // 2, h - 1), np.minimum(self.cx * step + step // 2, w - 1)
        self.clean = mask[self.py, self.px] == 0
        self.here = img[:, self.py, self.px].astype(np.float32)

    def misfit(self, other: np.ndarray, dy: int, dx: int, mask: np.ndarray | None = None):
        """Per pixel, the mean largest channel |``img``(y) - ``other``(y + (dy, dx))| over its
        surroundings' unmasked grid points y (float32 (N,); inf where there are none);
        ``mask``: also not where y + (dy, dx) is masked (the background is hidden there)."""
        h, w = other.shape[1:]
        y, x = self.py + dy, self.px + dx
        seen = self.clean & (y >= 0) & (y < h) & (x >= 0) & (x < w)
        y, x = np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)
        if mask is not None:
            seen &= mask[y, x] == 0
        err = np.abs(self.here - other[:, y, x]).max(axis=0)
        total, count = np.zeros(self.grid, np.float32), np.zeros(self.grid, np.float32)
        total[self.cy, self.cx], count[self.cy, self.cx] = err * seen, seen
        count = ndimage.uniform_filter(count, self.size, mode="constant")
        mean = ndimage.uniform_filter(total, self.size, mode="constant") / np.maximum(count, 1e-6)
        return np.where(count > 0.1, mean, np.inf)[self.cells]


def paint(img: np.ndarray, other: np.ndarray, mask: np.ndarray, shifts: list[tuple[int, int]],
          radius: int) -> np.ndarray:
    """``img`` (float (3, H, W) in [0, 1]) with its ``mask``-ed pixels (float32 (H, W) in
    [0, 1]: the overlay) painted out: where a shift s of ``shifts`` ((dy, dx) pixels)
    carries ``img``'s unmasked surroundings (about :data:`PAINT_RADIUS` pixels around, on a
    :data:`PAINT_STRIDE` grid) to ``other`` (the pair's other source frame), the masked pixel
    gets ``other`` at x + s if that is inside the frame and not masked; elsewhere, and where
    no shift fits within :data:`PAINT_FIT` (mean largest channel difference), the box fill
    :func:`vsvfi.neighbourhood.fill` with ``radius``. Where the textured surroundings stand
    still (:data:`PAINT_STILL`) the pixel keeps ``img``'s value: the network sees no motion
    there to drag the overlay with. Returns a new array of ``img``'s dtype."""
    base = fill(img, mask, radius)
    my, mx = np.nonzero(mask > 0)
    if not my.size:
        return base
    h, w = mask.shape
    near = _Surroundings(img, mask, my, mx)
    best = np.full(my.shape, np.inf, np.float32)
    now = base[:, my, mx].astype(np.float32)
    value = now.copy()
    for dy, dx in shifts:
        local = near.misfit(other, dy, dx)
        y, x = my + dy, mx + dx
        inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        y, x = np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)
        use = inside & (mask[y, x] == 0) & (local < best)
        best = np.where(use, local, best)
        value = np.where(use[None], other[:, y, x].astype(np.float32), value)
    trust = smoothstep(best, PAINT_FIT[1], PAINT_FIT[0]) * mask[my, mx]
    out = base.copy()
    out[:, my, mx] = now + (value - now) * trust
    still = _still(near, img, other, mask)
    if still.any():
        here = img[:, my, mx].astype(np.float32)
        painted = out[:, my, mx].astype(np.float32)
        out[:, my, mx] = painted + (here - painted) * still  # exactly painted where still is 0
    return out


def _still(near: _Surroundings, img: np.ndarray, other: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per pixel of ``near``, how far its surroundings stand still between ``img`` and
    ``other`` (float32 (N,) in [0, 1]; :data:`PAINT_STILL`, :data:`PAINT_TEXTURE`)."""
    moved = np.minimum(near.misfit(img, 0, PAINT_PROBE, mask), near.misfit(img, PAINT_PROBE, 0, mask))
    texture = smoothstep(np.where(np.isfinite(moved), moved, 0), *PAINT_TEXTURE)
    return (1 - smoothstep(near.misfit(other, 0, 0), *PAINT_STILL)) * texture


@dataclass(frozen=True)
class Layers:
    """What :func:`layers` fitted on a pair, for :func:`unmix` at any timestep: the pixels
    (``ys``, ``xs``, int (N,)), their static layer ``p`` (float32 (3, N)), background factor
    ``k`` (float32 (N,), 0..1), shift (``dy``, ``dx``, int (N,)) and weight (float32 (N,):
    the blend's weight there times how well the model fits), and the pixels whose
    background is hidden (``hidden``: bool (H, W))."""

    ys: np.ndarray
    xs: np.ndarray
    p: np.ndarray
    k: np.ndarray
    dy: np.ndarray
    dx: np.ndarray
    weight: np.ndarray
    hidden: np.ndarray


def layers(img0: np.ndarray, img1: np.ndarray, keep: np.ndarray, shifts: list[tuple[int, int]]) -> Layers | None:
    """Fit I = P + k B on the ``keep`` pixels (float32 (H, W) in [0, 1]: where the blend goes
    in) of a pair (float (3, H, W) in [0, 1]): per pixel x and shift v of ``shifts``,
    B0 = I1(x + v) and B1 = I0(x - v) (the background that the motion brings there; neither
    may be a kept pixel itself), k = <I0 - I1, B0 - B1> / |B0 - B1|² clipped to [0, 1] and
    P = the mean of I0 - k B0 and I1 - k B1; the shift with the smallest residual (largest
    channel) is taken, trusted by :data:`UNMIX_FIT`, where it fits better than no motion
    (k = 0, the blend; residual |I0 - I1| / 2), and by how well that shift carries the
    pixel's surroundings (:func:`_carried`). None where nothing fits."""
    ys, xs = np.nonzero(keep > 0)
    if not ys.size or not shifts:
        return None
    h, w = keep.shape
    hidden = np.zeros(keep.shape, bool)
    box = _bounds(keep > 0, 2)
    hidden[box] = ndimage.binary_dilation(keep[box] > 0.5)  # overlay, not background
    a = img0[:, ys, xs].astype(np.float32)
    b = img1[:, ys, xs].astype(np.float32)
    best = np.full(ys.shape, np.inf, np.float32)
    k_best, p_best = np.zeros(ys.shape, np.float32), np.zeros(a.shape, np.float32)
    pick = np.zeros(ys.shape, np.intp)
    moves = [(0, 0), *shifts]  # no motion first: k = 0, P = the blend; a shift must fit better
    for n, (dy, dx) in enumerate(moves):
        y0, x0, y1, x1 = ys + dy, xs + dx, ys - dy, xs - dx
        usable = ((y0 >= 0) & (y0 < h) & (x0 >= 0) & (x0 < w) & (y1 >= 0) & (y1 < h) & (x1 >= 0) & (x1 < w))
        y0, x0, y1, x1 = np.clip(y0, 0, h - 1), np.clip(x0, 0, w - 1), np.clip(y1, 0, h - 1), np.clip(x1, 0, w - 1)
        usable = usable & ~hidden[y0, x0] & ~hidden[y1, x1] if n else usable  # (0, 0): the blend, always
        b0, b1 = img1[:, y0, x0].astype(np.float32), img0[:, y1, x1].astype(np.float32)
        di, db = a - b, b0 - b1
        k = np.clip((di * db).sum(axis=0) / ((db * db).sum(axis=0) + 1e-4), 0, 1)
        residual = np.where(usable, np.abs(di - k * db).max(axis=0) / 2, np.inf)
        better = residual < best
        best = np.where(better, residual, best)
        k_best = np.where(better, k, k_best)
        p_best = np.where(better[None], (a - k * b0 + b - k * b1) / 2, p_best)
        pick = np.where(better, n, pick)
    gain = np.abs(a - b).max(axis=0) / 2 - best
    weight = keep[ys, xs] * smoothstep(best, UNMIX_FIT[1], UNMIX_FIT[0]) * smoothstep(gain, *UNMIX_GAIN)
    on = (weight > 0) & (pick > 0)  # pick 0: the blend fits best, nothing to unmix
    if on.any():
        weight[on] *= _carried(img0, img1, keep, ys[on], xs[on], pick[on], moves)
        on &= weight > 0
    if not on.any():
        return None
    chosen = np.asarray(moves, np.intp)[pick[on]]
    return Layers(ys[on], xs[on], p_best[:, on], k_best[on], chosen[:, 0], chosen[:, 1], weight[on], hidden)


def _carried(img0: np.ndarray, img1: np.ndarray, keep: np.ndarray, ys: np.ndarray, xs: np.ndarray, pick: np.ndarray,
             moves: list[tuple[int, int]]) -> np.ndarray:
    """How far (0..1, float32 (N,)) the shift ``moves[pick]`` each pixel's layer was fitted
    with also carries its unkept surroundings whose background is not kept either
    (:data:`UNMIX_CARRY`, measured as :func:`paint` does). One factor k fits the three
    channels of I0 - I1 against B0 - B1, so on real footage, whose local motion is often
    none of the pair's dominant shifts, one of them fits some pixels by chance
    (docs/protection.md, "The layer model's shift, checked around"). 1 where no such
    surroundings are left (inside a large overlay: nothing to check the fit against)."""
    near = _Surroundings(img0, keep, ys, xs)
    out = np.ones(ys.shape, np.float32)
    for n in np.unique(pick):
        sel = pick == n
        dy, dx = moves[n]
        local = near.misfit(img1, dy, dx, keep)[sel]
        out[sel] = np.where(np.isinf(local), 1, smoothstep(local, UNMIX_CARRY[1], UNMIX_CARRY[0]))
    return out


def unmix(frame: np.ndarray, img0: np.ndarray, img1: np.ndarray, t: float, fit: Layers | None) -> np.ndarray:
    """``frame`` (3, H, W; the output after :meth:`vsvfi.protect.Protection.combine`, which
    put the blend of ``img0`` and ``img1`` in on the kept pixels) with that blend replaced,
    with the weight of ``fit`` (:func:`layers`), by P + k B(t): B(t) is I0(x - t v) and
    I1(x + (1 - t) v) (bilinear; the mean of those whose background is not hidden), else
    (I1(x + v) + I0(x - v)) / 2. Returns float32: ``frame`` itself, changed in place, when
    it is float32 (the filter passes combine's fresh output), else a copy; ``frame`` as is
    where ``fit`` is None."""
    if fit is None:
        return frame
    ys, xs, dy, dx = fit.ys, fit.xs, fit.dy, fit.dx
    y0, x0, y1, x1 = ys - t * dy, xs - t * dx, ys + (1 - t) * dy, xs + (1 - t) * dx
    s0, ok0 = _sample(img0, y0, x0)
    s1, ok1 = _sample(img1, y1, x1)
    ok0 &= ~_flag(fit.hidden, y0, x0)
    ok1 &= ~_flag(fit.hidden, y1, x1)
    seen = (ok0.astype(np.float32) + ok1)[None]
    h, w = fit.hidden.shape
    far = (img1[:, np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)].astype(np.float32)
           + img0[:, np.clip(ys - dy, 0, h - 1), np.clip(xs - dx, 0, w - 1)]) / 2
    bt = np.where(seen > 0, (s0 * ok0 + s1 * ok1) / np.maximum(seen, 1), far)
    blend = img0[:, ys, xs].astype(np.float32) * np.float32(1 - t) + img1[:, ys, xs] * np.float32(t)
    out = frame if frame.dtype == np.float32 else frame.astype(np.float32)
    out[:, ys, xs] += (fit.p + fit.k * bt - blend) * fit.weight
    return out

"""Neighbourhood operations on float32 numpy frames that the static-overlay protection
(:mod:`vsvfi.protect`) builds its masks from: a smooth ramp, 3x3 extremes and ranges,
openings, dilations, box means and gradients, edges handled as VapourSynth's std filters
do; windows of a frame that may leave it; the box fill that paints masked pixels out; and
bilinear sampling at fractional positions."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 at or below ``lo``, 1 at or above ``hi`` (``lo > hi`` flips it), smooth (3u² - 2u³)
    in between; float32, the shape of ``x``."""
    u = np.clip((x - np.float32(lo)) / np.float32(hi - lo), 0, 1, dtype=np.float32)
    return u * u * (3 - 2 * u)


def extreme3(x: np.ndarray, op) -> np.ndarray:
    """3x3 minimum (``op=np.minimum``) or maximum (``np.maximum``) over the last two axes,
    out-of-frame neighbours ignored (as VapourSynth's std.Minimum/Maximum). Separable, on
    shifted views: several times faster than scipy.ndimage's generic rank filters here."""
    rows = x.copy()
    op(rows[..., 1:, :], x[..., :-1, :], out=rows[..., 1:, :])
    op(rows[..., :-1, :], x[..., 1:, :], out=rows[..., :-1, :])
    out = rows.copy()
    op(out[..., 1:], rows[..., :-1], out=out[..., 1:])
    op(out[..., :-1], rows[..., 1:], out=out[..., :-1])
    return out


def range3(img: np.ndarray) -> np.ndarray:
    """Largest range (maximum - minimum) over the channels of ``img`` (3, H, W) in the 3x3
    square around each pixel; (H, W)."""
    return (extreme3(img, np.maximum) - extreme3(img, np.minimum)).max(axis=0)


def opened(mask: np.ndarray) -> np.ndarray:
    """3x3 morphological opening (minimum, then maximum): drops features thinner than 3 px."""
    return extreme3(extreme3(mask, np.minimum), np.maximum)


def dilate(x: np.ndarray, radius: int) -> np.ndarray:
    """Maximum over the (2 radius + 1)² square around each pixel (out-of-frame neighbours
    ignored): ``radius`` rounds of 3x3 maxima in one pass."""
    return ndimage.maximum_filter(x, size=2 * radius + 1, mode="nearest")


def box(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2 radius + 1)² square around each pixel of the last two axes
    (edge pixels repeated, as VapourSynth's std.BoxBlur); float32."""
    size = (1,) * (x.ndim - 2) + (2 * radius + 1,) * 2
    return ndimage.uniform_filter(x, size=size, mode="nearest", output=np.float32)


def gradients(img: np.ndarray, where: tuple[slice, slice] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Largest absolute central difference over the channels of ``img`` (3, H, W), across
    columns and across rows (edge pixels repeated); ``where``: only over these rows and
    columns (slices with a start and stop inside the frame), as over the whole frame."""
    if where is not None:  # a pixel more on each side inside the frame, cut off again
        ys, xs = (slice(max(0, s.start - 1), s.stop + 1) for s in where)
        inner = tuple(slice(s.start - c.start, s.stop - c.start) for s, c in zip(where, (ys, xs)))
        return tuple(g[inner] for g in gradients(img[:, ys, xs]))
    p = np.pad(img, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = np.abs(p[:, 1:-1, 2:] - p[:, 1:-1, :-2]).max(axis=0)
    gy = np.abs(p[:, 2:, 1:-1] - p[:, :-2, 1:-1]).max(axis=0)
    return gx, gy


def around(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The rows and columns of the box around the nonzero pixels of ``mask`` (H, W; at least
    one), ``margin`` pixels wider on every side, inside the frame."""
    return tuple(slice(max(0, i[0] - margin), min(n, i[-1] + 1 + margin)) for i, n in
                 zip((np.nonzero(mask.any(axis=k))[0] for k in (1, 0)), mask.shape))


def on_tiles(fn, where: np.ndarray, margin: int, tile: int = 64) -> np.ndarray:
    """float32 (H, W): ``fn`` (of a (rows, columns) slice pair, returning float (h, w) for
    that box of the frame) on the boxes around the 8-connected groups of ``tile``-square
    tiles that hold a nonzero pixel of ``where`` (H, W), each read ``margin`` pixels wider
    (the reach of ``fn``'s filters: the same values as over the whole frame, up to the
    float rounding of running sums); 0 on the other tiles."""
    h, w = where.shape
    ny, nx = -(-h // tile), -(-w // tile)
    padded = np.zeros((ny * tile, nx * tile), bool)
    padded[:h, :w] = where != 0
    groups, _ = ndimage.label(padded.reshape(ny, tile, nx, tile).any(axis=(1, 3)), np.ones((3, 3), bool))
    out = np.zeros((h, w), np.float32)
    for rows, cols in ndimage.find_objects(groups):
        inner = (slice(rows.start * tile, min(h, rows.stop * tile)), slice(cols.start * tile, min(w, cols.stop * tile)))
        outer = tuple(slice(max(0, s.start - margin), min(n, s.stop + margin)) for s, n in zip(inner, (h, w)))
        out[inner] = fn(outer)[tuple(slice(s.start - o.start, s.stop - o.start) for s, o in zip(inner, outer))]
    return out


def window(img: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """``img[:, y0:y1, x0:x1]`` (float32), with 2.0 (outside [0, 1], matching nothing)
    where the window leaves the frame."""
    out = np.full((img.shape[0], y1 - y0, x1 - x0), 2.0, np.float32)
    h, w = img.shape[1:]
    a0, a1, b0, b1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if a0 < a1 and b0 < b1:
        out[:, a0 - y0:a1 - y0, b0 - x0:b1 - x0] = img[:, a0:a1, b0:b1]
    return out


#: Side (pixels) of the tiles of :func:`fill`: only tiles with masked pixels are filled
#: (measured in docs/gpu.md, "The whole filter").
TILE = 32


def fill(img: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """``img`` (float (3, H, W)) with its masked pixels (``mask``: float32 (H, W) in [0, 1])
    replaced by the average of the unmasked pixels in the (2 radius + 1)² square around
    them (a plain box blur where fewer than 1% of them are unmasked); soft in between.
    Returns a new array of ``img``'s dtype.

    Only the :data:`TILE`-pixel tiles holding masked pixels are computed (each with
    ``radius`` pixels of context); the rest is copied."""
    h, w = mask.shape
    ty, tx = -(-h // TILE), -(-w // TILE)
    padded = np.zeros((ty * TILE, tx * TILE), bool)
    padded[:h, :w] = mask > 0
    active = np.argwhere(padded.reshape(ty, TILE, tx, TILE).any(axis=(1, 3)))
    if len(active) * 2 > ty * tx:  # mostly masked: one pass over the frame is cheaper
        return _fill(img, mask, radius)
    out = img.copy()
    for y, x in active:
        y0, x0 = y * TILE, x * TILE
        y1, x1 = min(h, y0 + TILE), min(w, x0 + TILE)
        a0, b0, a1, b1 = max(0, y0 - radius), max(0, x0 - radius), min(h, y1 + radius), min(w, x1 + radius)
        piece = _fill(img[:, a0:a1, b0:b1], mask[a0:a1, b0:b1], radius)
        out[:, y0:y1, x0:x1] = piece[:, y0 - a0:y1 - a0, x0 - b0:x1 - b0]
    return out


def _fill(img: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """:func:`fill` on one piece of the frame, in one pass."""
    src = img.astype(np.float32, copy=False)
    keep = 1 - mask
    num = box(src * keep, radius)
    den = box(keep[None], radius)
    safe = den > 0.01
    inpaint = np.where(safe, num / np.where(safe, den, 1), box(src, radius))
    return (src + (inpaint - src) * mask).astype(img.dtype, copy=False)


def sample(img: np.ndarray, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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

"""Neighbourhood operations on float32 numpy frames that the static-overlay protection
(:mod:`vsvfi.protect`) builds its masks from: a smooth ramp, 3x3 extremes and ranges,
openings, dilations, box means and gradients, edges handled as VapourSynth's std filters
do; and windows of a frame that may leave it."""

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


def gradients(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest absolute central difference over the channels of ``img`` (3, H, W), across
    columns and across rows (edge pixels repeated)."""
    p = np.pad(img, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = np.abs(p[:, 1:-1, 2:] - p[:, 1:-1, :-2]).max(axis=0)
    gy = np.abs(p[:, 2:, 1:-1] - p[:, :-2, 1:-1]).max(axis=0)
    return gx, gy


def window(img: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """``img[:, y0:y1, x0:x1]`` (float32), with 2.0 (outside [0, 1], matching nothing)
    where the window leaves the frame."""
    out = np.full((img.shape[0], y1 - y0, x1 - x0), 2.0, np.float32)
    h, w = img.shape[1:]
    a0, a1, b0, b1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if a0 < a1 and b0 < b1:
        out[:, a0 - y0:a1 - y0, b0 - x0:b1 - x0] = img[:, a0:a1, b0:b1]
    return out

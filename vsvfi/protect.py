"""Static-overlay protection (``Interpolate(protect_static=True)``) on numpy arrays.

Computed once per pair of source frames, inside the pair's preparation, so it adds no
VapourSynth nodes: the chain of VapourSynth filters (morphology, box blurs, Exprs) this
replaces left the resident memory of long renders growing (docs/reliability.md, "Memory").
Box filters are scipy.ndimage's; both release the GIL, so VapourSynth threads prepare
pairs in parallel.

The thresholds (fractions of the sample range, on RGB float frames I0, I1 in [0, 1]) and
what the masks mean are documented with the constants in :mod:`vsvfi.filter`:
``PROTECT_LOW``, ``PROTECT_HIGH``, ``PROTECT_EXACT``, ``PROTECT_CONTRAST``,
``PROTECT_MOVING``, ``PROTECT_RADIUS``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 at or below ``lo``, 1 at or above ``hi`` (``lo > hi`` flips it), smooth (3u² - 2u³)
    in between; float32, the shape of ``x``."""
    u = np.clip((x - np.float32(lo)) / np.float32(hi - lo), 0, 1, dtype=np.float32)
    return u * u * (3 - 2 * u)


def _extreme3(x: np.ndarray, op) -> np.ndarray:
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


def _opened(mask: np.ndarray) -> np.ndarray:
    """3x3 morphological opening (minimum, then maximum): drops features thinner than 3 px."""
    return _extreme3(_extreme3(mask, np.minimum), np.maximum)


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2 radius + 1)² square around each pixel of the last two axes
    (edge pixels repeated, as VapourSynth's std.BoxBlur); float32."""
    size = (1,) * (x.ndim - 2) + (2 * radius + 1,) * 2
    return ndimage.uniform_filter(x, size=size, mode="nearest", output=np.float32)


def static_masks(img0: np.ndarray, img1: np.ndarray, low: float, high: float, exact: tuple[float, float],
                 contrast: tuple[float, float], moving: tuple[float, float],
                 radius: int) -> tuple[np.ndarray, np.ndarray]:
    """The two masks of a pair of RGB frames.

    Args:
        img0, img1: float32 (3, H, W) in [0, 1], source frames i and i + 1.
        low, high: d = max over channels of |img0 - img1|; the static weight is 1 for
            d <= low and 0 for d >= high.
        exact: (lo, hi) of d for "exactly static" (1 below lo, 0 above hi).
        contrast: (lo, hi) of the 5x5 maximum of img0's 3x3 range (max - min).
        moving: (lo, hi) of the fraction of not exactly static pixels around a pixel.
        radius: half-size of that neighbourhood, pixels.

    Returns:
        (static, overlay): float32 (H, W) in [0, 1]. ``static``: where the output is the
        linear blend of the inputs (3x3-opened). ``overlay``: exactly static,
        high-contrast pixels surrounded by motion, to be painted out before the network.
    """
    d = np.abs(img0 - img1).max(axis=0)
    static = _opened(smoothstep(d, high, low))
    still = _opened(smoothstep(d, exact[1], exact[0]))
    around = _box(1 - still, radius)
    spread = (_extreme3(img0, np.maximum) - _extreme3(img0, np.minimum)).max(axis=0)
    edges = _extreme3(_extreme3(spread, np.maximum), np.maximum)
    overlay = still * smoothstep(around, *moving) * smoothstep(edges, *contrast)
    return static, overlay


def fill(img: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """``img`` (float (3, H, W)) with its masked pixels (``mask``: float32 (H, W) in [0, 1])
    replaced by the average of the unmasked pixels in the (2 radius + 1)² square around
    them (a plain box blur where fewer than 1% of them are unmasked); soft in between.
    Returns a new array of ``img``'s dtype."""
    src = img.astype(np.float32, copy=False)
    keep = 1 - mask
    num = _box(src * keep, radius)
    den = _box(keep[None], radius)
    safe = den > 0.01
    inpaint = np.where(safe, num / np.where(safe, den, 1), _box(src, radius))
    return (src + (inpaint - src) * mask).astype(img.dtype, copy=False)

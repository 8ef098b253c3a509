"""Static-overlay protection (``Interpolate(protect_static=True)``) on numpy arrays.

Computed once per pair of source frames, inside the pair's preparation, so it adds no
VapourSynth nodes: the chain of VapourSynth filters (morphology, box blurs, Exprs) this
replaces left the resident memory of long renders growing (docs/reliability.md, "Memory").
Box filters are scipy.ndimage's; both release the GIL, so VapourSynth threads prepare
pairs in parallel.

The thresholds and what the masks mean: :class:`Protection`; the filter uses
:data:`DEFAULT`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Protection:
    """Static-overlay protection parameters, on RGB float frames I0, I1 in [0, 1]. Per
    pixel, d = the largest |I0 - I1| over the channels (0..1).

    - static pixels: weight 1 for d <= ``low``, 0 for d >= ``high`` (smooth in between),
      after a 3x3 morphological opening that drops isolated pixels. The output there is
      the linear blend of I0 and I1 (where they agree, the blend is the answer).
    - overlay pixels: subtitles and logos over moving content: exactly static (d between
      ``exact``), near high contrast (the 5x5 maximum of I0's 3x3 range between
      ``contrast``), with a mostly moving ``radius``-pixel neighbourhood (moving fraction
      between ``moving``), and within :data:`REACH` pixels of static edges that run both
      across and along (steps between ``contrast`` in both frames). The last test keeps
      moving periodic patterns out: where one slides along itself, only the edges that run
      along the motion stay static. Overlay pixels are painted out of both inputs before
      the network runs, so it cannot drag them along with the motion around them.
    - afterwards (:meth:`combine`) static pixels get the blend: always within ``near``
      pixels of an overlay, elsewhere only where the network's frame is within
      ``disagree`` of the blend (where it is not, the network saw motion that two frames
      alone hide, such as a pattern that moved by whole periods).

    Each (lo, hi) pair is the ramp of a :func:`smoothstep`; values are fractions of the
    sample range, ``radius`` is in pixels.
    """

    low: float = 1 / 255
    high: float = 3 / 255
    exact: tuple[float, float] = (0.5 / 255, 2 / 255)
    contrast: tuple[float, float] = (0.2, 0.4)
    moving: tuple[float, float] = (0.3, 0.5)
    radius: int = 6
    disagree: tuple[float, float] = (8 / 255, 24 / 255)
    near: int = 6

    def masks(self, img0: np.ndarray, img1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`static_masks` of a pair with these parameters."""
        return static_masks(img0, img1, self)

    def fill(self, img: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """:func:`fill` with this ``radius``."""
        return fill(img, mask, self.radius)

    def keep(self, static: np.ndarray, overlay: np.ndarray) -> np.ndarray:
        """The static pixels within ``near`` pixels of an overlay (float32 (H, W)): they get
        the blend whatever the network says (:meth:`combine`)."""
        return static * _dilate(overlay, self.near)

    def combine(self, frame: np.ndarray, img0: np.ndarray, img1: np.ndarray, t: float, static: np.ndarray,
                keep: np.ndarray | None) -> np.ndarray:
        """The network's ``frame`` (3, H, W) at timestep ``t`` with the linear blend of
        ``img0``, ``img1`` put in on the ``static`` pixels of :meth:`masks`: near overlays
        (``keep``, from :meth:`keep`) always, elsewhere only where the network agrees with
        the blend (its output within ``disagree``). Where it does not, it saw motion that the
        two frames alone hide (a periodic pattern that moved by whole periods), and its
        frame is kept."""
        blend = img0 * np.float32(1 - t) + img1 * np.float32(t)
        gap = np.abs(frame - blend).max(axis=0)
        weight = static * smoothstep(gap, self.disagree[1], self.disagree[0])
        if keep is not None:
            weight = np.maximum(weight, keep)
        return frame + (blend - frame) * weight


#: The parameters ``Interpolate(protect_static=True)`` uses.
DEFAULT = Protection()


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


def _dilate(x: np.ndarray, radius: int) -> np.ndarray:
    """Maximum over the (2 radius + 1)² square around each pixel (out-of-frame neighbours
    ignored): ``radius`` rounds of 3x3 maxima in one pass."""
    return ndimage.maximum_filter(x, size=2 * radius + 1, mode="nearest")


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2 radius + 1)² square around each pixel of the last two axes
    (edge pixels repeated, as VapourSynth's std.BoxBlur); float32."""
    size = (1,) * (x.ndim - 2) + (2 * radius + 1,) * 2
    return ndimage.uniform_filter(x, size=size, mode="nearest", output=np.float32)


#: Rows per strip of :func:`static_masks` and side of the tiles of :func:`fill`: a strip's
#: intermediate arrays stay in the CPU caches, and only tiles with overlay pixels are filled
#: (measured in docs/gpu.md, "The whole filter").
STRIP_ROWS = 64
TILE = 32
#: How far (pixels) from an overlay pixel its structure must show static edges both across
#: and along (about half the height of a letter: the middle of a tall stroke has edges
#: across only).
REACH = 12


def static_masks(img0: np.ndarray, img1: np.ndarray, params: Protection = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """The two masks of a pair of RGB frames.

    Args:
        img0, img1: float32 (3, H, W) in [0, 1], source frames i and i + 1.
        params: thresholds and sizes (:class:`Protection`).

    Returns:
        (static, overlay): float32 (H, W) in [0, 1]. ``static``: pixels where the inputs
        agree (3x3-opened), candidates for the linear blend. ``overlay``: static text and
        logos surrounded by motion, to be painted out before the network.

    Computed in strips of :data:`STRIP_ROWS` rows, each with enough rows of context above
    and below (the reach of the whole chain of filters), so every pixel sees the
    neighbourhood it has in one pass over the frame (the box filter's running sums start at
    another row: float rounding at most).
    """
    h = img0.shape[1]
    static = np.empty(img0.shape[1:], np.float32)
    overlay = np.empty(img0.shape[1:], np.float32)
    reach = max(params.radius + 2, REACH + 1)
    for y0 in range(0, h, STRIP_ROWS):
        y1 = min(h, y0 + STRIP_ROWS)
        a0, a1 = max(0, y0 - reach), min(h, y1 + reach)
        s, o = _static_masks(img0[:, a0:a1], img1[:, a0:a1], params)
        static[y0:y1], overlay[y0:y1] = s[y0 - a0:y1 - a0], o[y0 - a0:y1 - a0]
    return static, overlay


def _gradients(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest absolute central difference over the channels of ``img`` (3, H, W), across
    columns and across rows (edge pixels repeated)."""
    p = np.pad(img, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = np.abs(p[:, 1:-1, 2:] - p[:, 1:-1, :-2]).max(axis=0)
    gy = np.abs(p[:, 2:, 1:-1] - p[:, :-2, 1:-1]).max(axis=0)
    return gx, gy


def _static_masks(img0: np.ndarray, img1: np.ndarray, p: Protection) -> tuple[np.ndarray, np.ndarray]:
    """:func:`static_masks` on one piece of the frame, in one pass."""
    d = np.abs(img0 - img1).max(axis=0)
    static = _opened(smoothstep(d, p.high, p.low))
    exact = smoothstep(d, p.exact[1], p.exact[0])
    still = _opened(exact)
    around = _box(1 - still, p.radius)
    spread = (_extreme3(img0, np.maximum) - _extreme3(img0, np.minimum)).max(axis=0)
    edges = _extreme3(_extreme3(spread, np.maximum), np.maximum)
    overlay = still * smoothstep(around, *p.moving) * smoothstep(edges, *p.contrast)
    (gx0, gy0), (gx1, gy1) = _gradients(img0), _gradients(img1)
    across, along = (exact * smoothstep(np.minimum(g0, g1), *p.contrast) for g0, g1 in ((gx0, gx1), (gy0, gy1)))
    return static, overlay * np.minimum(_dilate(across, REACH), _dilate(along, REACH))


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
    num = _box(src * keep, radius)
    den = _box(keep[None], radius)
    safe = den > 0.01
    inpaint = np.where(safe, num / np.where(safe, den, 1), _box(src, radius))
    return (src + (inpaint - src) * mask).astype(img.dtype, copy=False)

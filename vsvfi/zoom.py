"""One zoom-and-pan model of a pair's motion, for the overlay seeds through a codec's noise
(:mod:`vsvfi.encoded`): where no single shift carries the picture (a zoom, a dolly), one
motion v(x) = k x + t (k: the zoom's rate, t: the pan; pixels) may (docs/protection.md,
"A zoom for the codec gate").

The fit: phase correlation (as :func:`vsvfi.motion.phase_peaks`) in each tile of a 4x4 grid over
the luma at most :data:`FIT_WIDTH` pixels wide (one pixel per block: the mean of 2 x 2 pixels); the model through every two
tiles' peaks, the one most tiles agree with (within :data:`AGREE` pixels) refitted on them
(RANSAC in the manner of Fischler and Bolles, 1981, over all pairs); then Gauss-Newton on the
luma (Lucas and Kanade, 1981, with the three parameters of this model), first on the small
luma, then on the full frame, residuals weighted down past :data:`ROBUST` (Cauchy) so that a
static overlay or a moving object does not pull the fit.

Frames are float32 (3, H, W) RGB in [0, 1]; the model maps I0(x) to I1(x + v(x)), x = (y, x)
in pixels of the full frame.
"""

from __future__ import annotations

import numpy as np

from .motion import _tukey

#: Tiles per side of the grid the first guess is read from, and the fewest pixels a tile
#: may have on a side (smaller frames get no model).
TILES, MIN_TILE = 4, 8
#: Width (pixels) of the luma the first guess and the first refinement work on.
FIT_WIDTH = 320
#: Pixels (of that luma) a tile's peak may lie from the model and still agree with it.
AGREE = 1.5
#: Luma residual past which a point counts less in the refinement (Cauchy scale).
ROBUST = 0.03
#: Most points each refinement reads (an even spread of the textured ones).
POINTS = 4000


def _small(img: np.ndarray, f: int) -> np.ndarray:
    """The luma (mean over the channels) of ``img`` one pixel per f x f block: the mean of the
    2 x 2 pixels at or next to its centre (pixels f // 2 - 1 and f // 2 of the block; the
    whole block for f <= 2; a coarser look at larger f, which the refinement on the full
    frame makes up for)."""
    if f == 1:
        return img.mean(axis=0, dtype=np.float32)
    o = f // 2 - 1
    h, w = img.shape[1] // f * f, img.shape[2] // f * f
    parts = [img[:, o + dy:h:f, o + dx:w:f] for dy in (0, 1) for dx in (0, 1)]
    return sum(parts[1:], parts[0]).mean(axis=0) * np.float32(1 / 4)


def _tile_peaks(s0: np.ndarray, s1: np.ndarray) -> np.ndarray:
    """(y, x, dy, dx) per textured tile of a :data:`TILES` x :data:`TILES` grid: its centre
    and its phase-correlation peak (:func:`vsvfi.motion.phase_peaks`' measure, every tile in
    one batch of FFTs)."""
    th, tw = s0.shape[0] // TILES, s0.shape[1] // TILES
    if min(th, tw) < MIN_TILE:
        return np.zeros((0, 4))

    def tiles(x):
        t = x[:th * TILES, :tw * TILES].reshape(TILES, th, TILES, tw).transpose(0, 2, 1, 3).reshape(-1, th, tw)
        return (t - t.mean(axis=(1, 2), keepdims=True)) / np.maximum(t.std(axis=(1, 2), keepdims=True), 1e-3)

    textured = np.nonzero(s0[:th * TILES, :tw * TILES].reshape(TILES, th, TILES, tw).std(axis=(1, 3)).ravel()
                          >= 0.02)[0]
    a, b = tiles(s0)[textured], tiles(s1)[textured]
    win = np.outer(_tukey(th), _tukey(tw))
    cross = np.fft.rfft2(b * win) * np.conj(np.fft.rfft2(a * win))
    surface = np.fft.irfft2(cross / (np.abs(cross) + 1e-9), s=(th, tw))
    y, x = np.divmod(surface.reshape(len(a), -1).argmax(axis=1), tw)
    iy, ix = np.divmod(textured, TILES)
    return np.stack([iy * th + (th - 1) / 2, ix * tw + (tw - 1) / 2, np.where(y > th // 2, y - th, y),
                     np.where(x > tw // 2, x - tw, x)], axis=1).astype(np.float64)


def _first_guess(s0: np.ndarray, s1: np.ndarray) -> np.ndarray | None:
    """(k, ty, tx) from the tiles' peaks; None where under 4 textured tiles agree on one."""
    r = _tile_peaks(s0, s1)
    if len(r) < 4:
        return None
    # the model through every two tiles' peaks (least squares, 4 equations), all pairs at once
    i, j = np.triu_indices(len(r), 1)
    a = np.zeros((i.size, 4, 3))
    a[:, 0, 0], a[:, 1, 0], a[:, 2, 0], a[:, 3, 0] = r[i, 0], r[i, 1], r[j, 0], r[j, 1]
    a[:, 0::2, 1] = a[:, 1::2, 2] = 1
    rhs = np.stack([r[i, 2], r[i, 3], r[j, 2], r[j, 3]], axis=1)
    at = a.transpose(0, 2, 1)
    models = np.linalg.solve(at @ a, (at @ rhs[..., None]))[..., 0]

    def agree(p):  # (models, tiles): whether each tile's peak lies within AGREE of each model
        return np.maximum(np.abs(r[:, 2] - p[:, :1] * r[:, 0] - p[:, 1:2]),
                          np.abs(r[:, 3] - p[:, :1] * r[:, 1] - p[:, 2:3])) <= AGREE

    def refit(sel):
        m = np.zeros((2 * sel.sum(), 3))
        m[0::2, 0], m[0::2, 1], m[1::2, 0], m[1::2, 2] = r[sel, 0], 1, r[sel, 1], 1
        return np.linalg.lstsq(m, np.ravel(r[sel][:, 2:4]), rcond=None)[0]

    best = agree(models)[int(np.argmax(agree(models).sum(axis=1)))]
    if best.sum() < 4:
        return None
    return refit(agree(refit(best)[None])[0])


def _with_gradient(img: np.ndarray, y: np.ndarray, x: np.ndarray):
    """The luma (mean over the channels) of ``img`` (C, H, W) at float positions (y, x),
    bilinear, its derivatives along y and x there, and whether each position is inside."""
    h, w = img.shape[1:]
    inside = (y >= 0) & (y <= h - 1) & (x >= 0) & (x <= w - 1)
    y, x = np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)
    y0, x0 = np.minimum(np.floor(y).astype(np.intp), h - 2), np.minimum(np.floor(x).astype(np.intp), w - 2)
    fy, fx = y - y0, x - x0
    corners = [img[:, y0 + dy, x0 + dx].mean(axis=0) for dy in (0, 1) for dx in (0, 1)]
    top, bottom = corners[0] + fx * (corners[1] - corners[0]), corners[2] + fx * (corners[3] - corners[2])
    gx = (corners[1] - corners[0]) * (1 - fy) + (corners[3] - corners[2]) * fy
    return top + fy * (bottom - top), bottom - top, gx, inside


def _refine(l0: np.ndarray, img: np.ndarray, ys: np.ndarray, xs: np.ndarray, p: np.ndarray, rounds: int) -> np.ndarray:
    """Gauss-Newton steps on (k, ty, tx) so that the luma of ``img`` (C, H, W) at x + v(x)
    matches ``l0``, the luma at the points (ys, xs)."""
    for _ in range(rounds):
        v, gy, gx, inside = _with_gradient(img, ys + p[0] * ys + p[1], xs + p[0] * xs + p[2])
        res = v - l0
        w = inside / (1 + (res / ROBUST) ** 2)
        jac = np.stack([gy * ys + gx * xs, gy, gx], axis=1).astype(np.float64)
        step = np.linalg.solve((jac * w[:, None]).T @ jac + np.diag([1e-2, 1e-6, 1e-6]), -(jac * w[:, None]).T @ res)
        p = p + step
        if abs(step[1]) + abs(step[2]) + abs(step[0]) * max(img.shape[1:]) < 0.01:
            break
    return p


def _spread_out(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    every = max(1, -(-ys.size // POINTS))
    return ys[::every].astype(np.float32), xs[::every].astype(np.float32)


def zoom_fit(img0: np.ndarray, img1: np.ndarray, spread: np.ndarray) -> np.ndarray | None:
    """The zoom and pan v(x) = (k y + ty, k x + tx) that carries ``img0`` to ``img1`` best.

    Args:
        img0, img1: float32 (3, H, W) RGB in [0, 1], source frames i and i + 1.
        spread: float32 (H, W), the 3x3 range of ``img0`` (its textured pixels, 0.05 or
            more, are the points of the full-size refinement).

    Returns:
        float64 (3,): k (the zoom's rate, unitless: 0.1 for a 10 % zoom in), ty and tx
        (pixels); None where fewer than 4 tiles agree on a model, or the frame is too small
        for tiles of :data:`MIN_TILE` pixels. Raises nothing on flat or unrelated frames."""
    h, w = img0.shape[1:]
    f = max(1, -(-w // FIT_WIDTH))
    s0, s1 = _small(img0, f), _small(img1, f)
    p = _first_guess(s0, s1)
    if p is None:
        return None
    gy, gx = np.gradient(s0)
    sy, sx = np.nonzero(np.hypot(gy, gx)[1:-1, 1:-1] > 0.01)
    sy, sx = _spread_out(sy + 1, sx + 1)
    p = _refine(s0[sy.astype(np.intp), sx.astype(np.intp)], s1[None], sy, sx, p, 8)
    o = 0.0 if f == 1 else f // 2 - 0.5  # where small pixel 0 lies in the full frame (_small)
    p = np.array([p[0], p[1] * f - p[0] * o, p[2] * f - p[0] * o])
    ys, xs = np.nonzero(spread[::f, ::f] >= 0.05)
    ys, xs = _spread_out(ys * f, xs * f)
    l0 = img0[:, ys.astype(np.intp), xs.astype(np.intp)].mean(axis=0)
    return _refine(l0, img1, ys, xs, p, 4)

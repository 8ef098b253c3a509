"""Motion-compensated comparison of two luma thumbnails: how different two source frames
are once their motion is taken out, and how far things moved. The scene-change decision
and ``scale="auto"`` both read it (:mod:`vsvfi.scenes`).

Method (block matching with normalised cross-correlation, NCC, which ignores brightness and
contrast changes such as flashes, fades and dissolves):

1. candidate motions: none, and the strongest peaks of the phase correlation of the two
   thumbnails (a pan, a large object), each replaced by its circular alias where the
   overlapping parts of the two agree better there, at NCC 0.9 or more (a motion of more
   than half the thumbnail's height peaks where a smaller one the other way would);
2. coarse search: each block of frame a, on thumbnails halved again, searches frame b within
   ``COARSE_RADIUS`` pixels around every candidate;
3. fine search: each block at thumbnail resolution searches ``FINE_RADIUS`` pixels around
   its coarse vector, at whole and half pixels;
4. the block vectors are smoothed (3x3 median) and each block is scored at its smoothed
   vector: real motion is coherent from block to block (pans, zooms, shake, a crossing
   object), while the best matches between two unrelated shots are not, so a chance match
   does not hide a cut.

The difference is the median over textured blocks of 1 - NCC: near 0 when the content of a
is found in b, 0.4 or more across a cut. Blocks that leave the frame with the dominant
motion are not counted. :func:`compare_both` (what the filter reads) compares both ways and
keeps the larger difference: a frame with little texture but long straight edges (a
top-down view of a kerb) finds those edges again in almost any other shot, while the other
shot's texture is not found in it. Frames too flat for blocks (the end of a fade to black)
get a plain difference that a fade (a gain and an offset) explains away. Measured on
families of cuts and hard non-cuts, and on held-out pairs, in docs/scene-change.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Side of the compared blocks (thumbnail pixels).
BLOCK = 8
#: Search radius of the coarse step (pixels of the half-size thumbnail) around each candidate.
COARSE_RADIUS = 6
#: Search radius of the fine step (thumbnail pixels) around each block's coarse vector.
FINE_RADIUS = 1
#: Candidate motions taken from the phase correlation (its strongest peaks).
PEAKS = 3
#: A block counts as textured when the standard deviation of its luma (0..1) is above this;
#: flat blocks match anything and say nothing.
MIN_BLOCK_STD = 0.03
#: With fewer textured blocks than this in either frame, the difference is the plain one
#: (:func:`_plain`: flat or nearly black frames, nothing to track or be fooled by).
MIN_BLOCKS = 12
#: Puts the plain difference on about this measure's scale: the plain measure's cut
#: threshold 0.12 (the detector before this one) becomes 0.30, near
#: :data:`vsvfi.scenes.SC_THRESHOLD`.
PLAIN_SCALE = 2.5
#: A frame whose luma varies by less than this (mean absolute deviation, 0..1) counts as flat
#: when the plain difference asks whether a fade explains the pair (:func:`_plain`): the end
#: of a fade to black or white.
FLAT = 0.02
#: Blocks matched at least this well (NCC) say how far things moved (:attr:`Comparison.motion`).
SURE_MATCH = 0.8
#: :attr:`Comparison.motion` is this percentile of those blocks' displacements: what most of
#: the picture does. A fast object over a still background gains less from a coarser flow
#: scale than the rest of the picture loses (the 90th percentile cost 0.2 dB on bikes at a
#: quarter of its frame rate, and more on the object and zoom families; docs/auto-scale.md).
MOTION_PERCENTILE = 50
#: The phase correlation is circular: a shift by d rows and by d - H rows (H the thumbnail's
#: height) peak at the same place, and :func:`phase_peaks` reports the one nearer 0. A peak
#: at least this share of the height (or width) away from 0 is checked against its alias
#: (:func:`unwrap`): a tilt of a quarter of the width per frame on a 2.35:1 frame moves 59 %
#: of the height, and was taken for a cut when read as the alias.
ALIAS_FROM = 0.3
#: An alias replaces the peak only where the overlapping parts agree at least this well
#: (NCC): the true alias of a large pan agrees at 0.94-1.0 on the families' thumbnails,
#: chance aliases between unrelated parts (cuts, flashes, secondary peaks) at most 0.78.
ALIAS_NCC = 0.9


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` measured on a pair of thumbnails.

    difference: 0..1; median over textured blocks of 1 - NCC at the smoothed block vectors
        (or the plain difference of flat frames, see :data:`MIN_BLOCKS`).
    motion: the :data:`MOTION_PERCENTILE`-th percentile of the displacement of the blocks
        matched with NCC above :data:`SURE_MATCH`, thumbnail pixels.
    blocks: textured blocks compared.
    """

    difference: float
    motion: float
    blocks: int


def _tukey(n: int, alpha: float = 0.3) -> np.ndarray:
    """Tukey window: flat in the middle, so content near the edges (what two frames of a
    large pan share) still counts in the phase correlation."""
    w = np.ones(n, np.float32)
    k = max(1, int(alpha * n / 2))
    ramp = 0.5 * (1 - np.cos(np.pi * np.arange(k) / k))
    w[:k], w[n - k:] = ramp, ramp[::-1]
    return w


def phase_peaks(a: np.ndarray, b: np.ndarray, count: int) -> list[tuple[int, int]]:
    """The ``count`` strongest displacements (dy, dx) of b relative to a (float (H, W), the
    same shape) by phase correlation of the two normalised to zero mean and unit standard
    deviation, each peak's 3x3 neighbourhood suppressed before the next."""
    a, b = ((x - x.mean()) / max(float(x.std()), 1e-3) for x in (a, b))
    win = np.outer(_tukey(a.shape[0]), _tukey(a.shape[1]))
    cross = np.fft.rfft2(b * win) * np.conj(np.fft.rfft2(a * win))
    surface = np.fft.irfft2(cross / (np.abs(cross) + 1e-9), s=a.shape)
    h, w = a.shape
    found = []
    for _ in range(count):
        y, x = np.unravel_index(int(np.argmax(surface)), surface.shape)
        found.append((int(y - h if y > h // 2 else y), int(x - w if x > w // 2 else x)))
        surface[np.ix_([(y + k) % h for k in (-1, 0, 1)], [(x + k) % w for k in (-1, 0, 1)])] = -np.inf
    return found


def _unexplained(y: np.ndarray, x: np.ndarray) -> float:
    """The share of y's variation (its mean absolute deviation, at least :data:`FLAT`) left
    after the least-squares fit g x + o (g >= 0): near 0 where y is x faded (a gain and an
    offset) or nearly flat, near 1 where the two are unrelated."""
    xc, yc = x - x.mean(), y - y.mean()
    var = float((xc * xc).mean())
    g = max(0.0, float((xc * yc).mean()) / var) if var > 1e-10 else 0.0
    return float(np.abs(yc - g * xc).mean()) / max(float(np.abs(yc).mean()), FLAT)


def _plain(a: np.ndarray, b: np.ndarray) -> float:
    """The difference of a pair too flat for the block comparison: the mean absolute luma
    difference times :data:`PLAIN_SCALE`, unless either frame is the other faded (or nearly
    flat), then how much of it a fade does not explain."""
    return min(1.0, PLAIN_SCALE * float(np.abs(a - b).mean()), _unexplained(b, a), _unexplained(a, b))


def _overlap_ncc(a: np.ndarray, b: np.ndarray, dy: int, dx: int) -> float:
    """NCC of the parts of ``a`` and ``b`` that overlap when b is a displaced by (dy, dx)."""
    h, w = a.shape
    pa = a[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    pb = b[max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
    if pa.size == 0:
        return -1.0
    pa, pb = pa - pa.mean(), pb - pb.mean()
    return float((pa * pb).mean() / (pa.std() * pb.std() + 1e-6))


def unwrap(a: np.ndarray, b: np.ndarray, peak: tuple[int, int]) -> tuple[int, int]:
    """``peak`` (dy, dx), a displacement of b relative to a from :func:`phase_peaks`, or its
    alias on an axis where it is at least :data:`ALIAS_FROM` of the size away from 0 (d - H
    for d > 0, d + H for d < 0): an alias where the overlapping parts of a and b agree
    better (NCC) than at the peak and at least :data:`ALIAS_NCC`, else the peak."""
    h, w = a.shape
    ys = [peak[0]] + ([peak[0] - h if peak[0] > 0 else peak[0] + h] if abs(peak[0]) >= ALIAS_FROM * h else [])
    xs = [peak[1]] + ([peak[1] - w if peak[1] > 0 else peak[1] + w] if abs(peak[1]) >= ALIAS_FROM * w else [])
    if len(ys) == len(xs) == 1:
        return peak
    best, found = max(ALIAS_NCC, _overlap_ncc(a, b, *peak)), peak
    for dy in ys:
        for dx in xs:
            score = _overlap_ncc(a, b, dy, dx)
            if score > best:
                best, found = score, (dy, dx)
    return found


def _blocks(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The ``rows`` x ``cols`` blocks of ``x``, each one contiguous row of BLOCK * BLOCK pixels
    (rows, cols, BLOCK * BLOCK): the sums below then run along memory."""
    t = x[:rows * BLOCK, :cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(t).reshape(rows, cols, BLOCK * BLOCK)


def _stats(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each block of ``v`` (..., BLOCK * BLOCK)."""
    m = v.mean(axis=-1)
    return m, np.sqrt(np.maximum(np.einsum("...k,...k->...", v, v) / v.shape[-1] - m * m, 0))


def _ncc(va: np.ndarray, ma: np.ndarray, sa: np.ndarray, vb: np.ndarray) -> np.ndarray:
    """NCC of the blocks ``va`` (rows, cols, BLOCK * BLOCK; mean ``ma``, deviation ``sa``)
    against candidates ``vb`` (..., rows, cols, BLOCK * BLOCK): (..., rows, cols), in a few
    whole-array passes (a loop of small ones would hold the GIL for its Python overhead,
    which serialises the filter's threads)."""
    mb, sb = _stats(vb)
    return (np.einsum("rck,...rck->...rc", va, vb) / va.shape[-1] - ma * mb) / (sa * sb + 1e-6)


def _coarse(a: np.ndarray, b: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per block of ``a``: the offset (dy, dx) among ``offsets`` (n, 2), sorted, where b
    matches best, the first among equals (offsets reaching outside b are skipped)."""
    rows, cols = a.shape[0] // BLOCK, a.shape[1] // BLOCK
    va = _blocks(a, rows, cols)
    ma, sa = _stats(va)
    reach = int(np.abs(offsets).max())
    # every BLOCK x BLOCK window of b, read at the block starts: copies whole block rows
    windows = sliding_window_view(np.pad(b, reach, constant_values=np.nan), (BLOCK, BLOCK))
    y0 = reach + offsets[:, 0, None, None] + np.arange(rows)[:, None] * BLOCK
    x0 = reach + offsets[:, 1, None, None] + np.arange(cols) * BLOCK
    vb = windows[y0, x0].reshape(len(offsets), rows, cols, BLOCK * BLOCK)
    ncc = np.nan_to_num(_ncc(va, ma, sa, vb), nan=-np.inf)  # NaN (outside b) never wins
    pick = np.argmax(ncc, axis=0)
    where = offsets[pick].astype(np.float32)
    where[~np.isfinite(np.take_along_axis(ncc, pick[None], 0)[0])] = 0  # no offset fits: (0, 0)
    return where


class _Shifted:
    """Frame b edge-padded, with half-pixel shifted copies, read at per-block vectors."""

    def __init__(self, b: np.ndarray, reach: int, rows: int, cols: int):
        p = np.pad(b, reach, mode="edge")
        right = (p + np.roll(p, -1, 1)) / 2
        self.copies = {(0, 0): p, (0, 1): right, (1, 0): (p + np.roll(p, -1, 0)) / 2,
                       (1, 1): (right + np.roll(right, -1, 0)) / 2}
        self.shape = b.shape
        self.reach, self.rows, self.cols = reach, rows, cols

    def starts(self, whole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top and left padded-pixel index (rows, cols) of every block moved by ``whole``
        (rows, cols, 2) integer vectors."""
        return (np.arange(self.rows)[:, None] * BLOCK + whole[..., 0] + self.reach,
                np.arange(self.cols) * BLOCK + whole[..., 1] + self.reach)

    def fits(self, y0: np.ndarray, x0: np.ndarray) -> np.ndarray:
        """Whether blocks starting at padded (y0, x0) and the pixel row and column after them
        (which the half-pixel copies read) lie inside b."""
        r = self.reach
        return (y0 >= r) & (y0 + BLOCK + 1 <= r + self.shape[0]) & (x0 >= r) & (x0 + BLOCK + 1 <= r + self.shape[1])


def _fine(a: np.ndarray, shifted: _Shifted, guess: np.ndarray) -> np.ndarray:
    """Per block: the best vector within :data:`FINE_RADIUS` of its ``guess`` (rows, cols, 2),
    at whole and half pixels (the first in search order among equals); blocks whose match
    would leave b keep their guess."""
    rows, cols = shifted.rows, shifted.cols
    va = _blocks(a, rows, cols)
    ma, sa = _stats(va)
    y0, x0 = shifted.starts(guess.astype(int))
    steps = [(dy, dx) for dy in range(-FINE_RADIUS, FINE_RADIUS + 1) for dx in range(-FINE_RADIUS, FINE_RADIUS + 1)]
    copies = list(shifted.copies.items())
    windows = sliding_window_view(np.stack([copy for _, copy in copies]), (BLOCK, BLOCK), axis=(1, 2))
    ys = y0 + np.array([dy for dy, _ in steps])[:, None, None]  # (steps, rows, cols)
    xs = x0 + np.array([dx for _, dx in steps])[:, None, None]
    # (steps, copies, rows, cols, BLOCK, BLOCK): search order step, then copy
    vb = windows[np.arange(len(copies))[None, :, None, None], ys[:, None], xs[:, None]]
    n = len(steps) * len(copies)
    ncc = _ncc(va, ma, sa, vb.reshape(n, rows, cols, BLOCK * BLOCK))
    ncc = np.where(np.repeat(shifted.fits(ys, xs), len(copies), axis=0), ncc, -np.inf)
    pick = np.argmax(ncc, axis=0)
    delta = np.array([(dy + hy / 2, dx + hx / 2) for dy, dx in steps for (hy, hx), _ in copies], np.float32)
    found = np.isfinite(np.take_along_axis(ncc, pick[None], 0)[0])
    return np.where(found[..., None], guess + delta[pick], guess.astype(np.float32))


def _score(a: np.ndarray, shifted: _Shifted, vectors: np.ndarray) -> np.ndarray:
    """NCC of every block of ``a`` against b at its own half-pixel vector."""
    rows, cols = shifted.rows, shifted.cols
    va = _blocks(a, rows, cols)
    ma, sa = _stats(va)
    whole = np.floor(vectors).astype(int)
    half = np.round((vectors - whole) * 2).astype(int)
    y0, x0 = shifted.starts(whole)
    out = np.full(vectors.shape[:2], -1.0, np.float32)
    for key, copy in shifted.copies.items():
        sel = (half[..., 0] == key[0]) & (half[..., 1] == key[1])
        if sel.any():
            vb = sliding_window_view(copy, (BLOCK, BLOCK))[y0, x0].reshape(rows, cols, BLOCK * BLOCK)
            out[sel] = _ncc(va, ma, sa, vb)[sel]
    return out


def _median3(vectors: np.ndarray) -> np.ndarray:
    """Component-wise median of each block's 3x3 neighbourhood of vectors, on half pixels."""
    p = np.pad(vectors, ((1, 1), (1, 1), (0, 0)), mode="edge")
    rows, cols = vectors.shape[:2]
    stack = np.stack([p[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols] for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    return np.round(np.median(stack, axis=0) * 2) / 2


def _half(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    return x[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _inside(grid: tuple[int, int], shape: tuple[int, int], shift: tuple[int, int]) -> np.ndarray:
    """Blocks that stay inside a frame of ``shape`` when moved by ``shift`` (dy, dx): the
    rest leaves the frame with the dominant motion and has no counterpart."""
    ys = np.arange(grid[0])[:, None] * BLOCK + shift[0]
    xs = np.arange(grid[1])[None, :] * BLOCK + shift[1]
    return (ys >= 0) & (ys + BLOCK <= shape[0]) & (xs >= 0) & (xs + BLOCK <= shape[1])


def _offsets(peaks: list[tuple[int, int]]) -> np.ndarray:
    """The coarse search's candidates on the halved thumbnails (n, 2), sorted by dy, then
    dx: every offset within :data:`COARSE_RADIUS` of no motion and of each peak."""
    r = np.arange(-COARSE_RADIUS, COARSE_RADIUS + 1)
    around = np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)
    centres = np.round(np.array([(0, 0), *peaks]) / 2).astype(int)  # half-way ties to even, as round()
    return np.unique((centres[:, None] + around).reshape(-1, 2), axis=0)


def _parents(coarse: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Each of the ``rows`` x ``cols`` blocks' coarse vector (from the halved thumbnails'
    ``coarse``; the last row or column of blocks reuses its neighbour's), in thumbnail pixels."""
    return 2 * coarse[np.minimum(np.arange(rows) // 2, coarse.shape[0] - 1)][:, np.minimum(np.arange(cols) // 2,
                                                                                           coarse.shape[1] - 1)]


def block_scores(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The block matching that :func:`compare` scores, on luma thumbnails ``a`` and ``b``
    (as :func:`compare` takes them): per :data:`BLOCK` x :data:`BLOCK` block of ``a``, its
    NCC with ``b`` at its smoothed vector (float32 (rows, cols), -1..1), those vectors
    (float32 (rows, cols, 2), thumbnail pixels (dy, dx)) and which blocks count (bool
    (rows, cols): textured and not leaving the frame with the dominant motion). None where
    ``b`` has too few textured blocks (:data:`MIN_BLOCKS`) or the thumbnails fewer than 4 x
    4 blocks: :func:`compare` then falls back on the plain difference."""
    a = np.ascontiguousarray(a, np.float32)
    b = np.ascontiguousarray(b, np.float32)
    rows, cols = a.shape[0] // BLOCK, a.shape[1] // BLOCK
    if rows < 4 or cols < 4 or (_stats(_blocks(b, rows, cols))[1] > MIN_BLOCK_STD).sum() < MIN_BLOCKS:
        return None
    peaks = [unwrap(a, b, p) for p in phase_peaks(a, b, PEAKS)]
    coarse = _coarse(_half(a), _half(b), _offsets(peaks))
    parent = _parents(coarse, rows, cols)
    reach = int(np.abs(parent).max()) + FINE_RADIUS + 2
    shifted = _Shifted(b, reach, rows, cols)
    vectors = _median3(_fine(a, shifted, parent))
    ncc = _score(a, shifted, vectors)
    counted = (_stats(_blocks(a, rows, cols))[1] > MIN_BLOCK_STD) & _inside((rows, cols), a.shape, peaks[0])
    return ncc, vectors, counted


def compare(a: np.ndarray, b: np.ndarray, percentile: float = MOTION_PERCENTILE) -> Comparison:
    """Compare luma thumbnails ``a`` and ``b`` (float32 (H, W), 0..1, same shape; about
    160 pixels wide, smooth: see :func:`vsvfi.scenes.thumbnails`) of source frames i and
    i + 1; :attr:`Comparison.motion` is the ``percentile``-th percentile of the well-matched
    blocks' displacements. Takes about 5 ms on one core of the development machine
    (``scripts/bench_scenes.py``), mostly in whole-array passes that release the GIL."""
    a = np.ascontiguousarray(a, np.float32)
    b = np.ascontiguousarray(b, np.float32)
    plain = Comparison(_plain(a, b), 0.0, 0)
    found = block_scores(a, b)
    if found is None:
        return plain
    ncc, vectors, counted = found
    if counted.sum() < MIN_BLOCKS:
        return Comparison(plain.difference, 0.0, int(counted.sum()))
    sure = counted & (ncc > SURE_MATCH)
    shift = np.hypot(vectors[..., 0], vectors[..., 1])[sure]
    return Comparison(float(np.clip(np.median(1 - ncc[counted]), 0, 1)),
                      float(np.percentile(shift, percentile)) if shift.size else 0.0, int(counted.sum()))


def compare_both(a: np.ndarray, b: np.ndarray, percentile: float = MOTION_PERCENTILE) -> Comparison:
    """:func:`compare` of a with b, with :attr:`Comparison.difference` the larger of that
    and of b compared with a (motion and blocks from a with b). On 1426 pairs of frames
    from different shots of bikes.mp4, a one-way comparison scored 47 at 0.34 or less
    (down to 0.08, the shot of a kerb seen from above against any other) and both ways
    none (0.395 and up); non-cuts rose by at most 0.034 (docs/scene-change.md). About
    twice the time of :func:`compare`."""
    ab = compare(a, b, percentile)
    return replace(ab, difference=max(ab.difference, compare(b, a, percentile).difference))

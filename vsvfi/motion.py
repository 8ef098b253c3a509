"""Motion-compensated comparison of two luma thumbnails: how different two source frames
are once their motion is taken out, and how far things moved. The scene-change decision
and ``scale="auto"`` both read it (:mod:`vsvfi.scenes`).

Method: both thumbnails are compared block by block with normalised cross-correlation
(NCC: insensitive to brightness and contrast changes such as flashes and fades). Each
block of frame a searches frame b within ``RADIUS`` thumbnail pixels around a few candidate
motions: no motion and the strongest peaks of the phase correlation of the two frames
(global pans and the motion of a large object). The difference is the median over textured
blocks of 1 - best NCC: near 0 when every region of a is found in b (any pan, zoom, shake,
a crossing object), near 0.5 or more across a cut. Blocks whose best match would lie outside
frame b (content leaving the frame) are not counted. Measurements: docs/scene-change.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Side of the compared blocks (thumbnail pixels).
BLOCK = 8
#: Local search radius around each candidate motion (thumbnail pixels).
RADIUS = 4
#: Candidate motions taken from the phase correlation (its strongest peaks).
PEAKS = 3
#: A block counts as textured when the standard deviation of its luma (0..1) is above this;
#: flat blocks match anything and say nothing.
MIN_BLOCK_STD = 0.02
#: Blocks matched at least this well (NCC) say how far things moved (:attr:`Comparison.motion`).
SURE_MATCH = 0.8
#: With fewer textured blocks than this, the difference is the plain mean absolute luma
#: difference instead (flat or nearly black frames: nothing to track, nothing to confuse).
MIN_BLOCKS = 6


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` measured on a pair of thumbnails.

    difference: 0..1; median over textured blocks of 1 - best NCC after motion search (or
        the plain mean absolute difference, see :data:`MIN_BLOCKS`).
    motion: 90th percentile of the displacement of the blocks matched with NCC above
        :data:`SURE_MATCH`, thumbnail pixels.
    blocks: textured blocks that found their counterpart inside frame b.
    """

    difference: float
    motion: float
    blocks: int


def _peaks(a: np.ndarray, b: np.ndarray, count: int) -> list[tuple[int, int]]:
    """The ``count`` strongest displacements (dy, dx) of b relative to a by phase
    correlation (Hann-windowed), each peak's 3x3 neighbourhood suppressed before the next."""
    win = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1])).astype(np.float32)
    cross = np.fft.rfft2(b * win) * np.conj(np.fft.rfft2(a * win))
    surface = np.fft.irfft2(cross / (np.abs(cross) + 1e-9), s=a.shape)
    h, w = a.shape
    found = []
    for _ in range(count):
        y, x = np.unravel_index(int(np.argmax(surface)), surface.shape)
        found.append((int(y - h if y > h // 2 else y), int(x - w if x > w // 2 else x)))
        surface[np.ix_([(y + k) % h for k in (-1, 0, 1)], [(x + k) % w for k in (-1, 0, 1)])] = -np.inf
    return found


def _blocks(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return x[:rows * BLOCK, :cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK)


def _best_match(a: np.ndarray, b: np.ndarray, offsets: list[tuple[int, int]]):
    """Per block of ``a``: the best NCC against ``b`` shifted by each of ``offsets`` (blocks
    reaching outside b are skipped: NaN padding), and the offset that gave it."""
    rows, cols = a.shape[0] // BLOCK, a.shape[1] // BLOCK
    blocks = _blocks(a, rows, cols)
    centred = blocks - blocks.mean(axis=(1, 3), keepdims=True)
    spread = np.sqrt((centred ** 2).mean(axis=(1, 3)))
    reach = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    padded = np.pad(b, reach, constant_values=np.nan)
    best = np.full((rows, cols), -np.inf, np.float32)
    where = np.zeros((rows, cols, 2), np.float32)
    for dy, dx in offsets:
        s = _blocks(padded[reach + dy:, reach + dx:], rows, cols)
        sc = s - s.mean(axis=(1, 3), keepdims=True)
        ncc = (centred * sc).mean(axis=(1, 3)) / (spread * np.sqrt((sc ** 2).mean(axis=(1, 3))) + 1e-6)
        better = ncc > best  # NaN (outside b) never is
        best[better] = ncc[better]
        where[better] = (dy, dx)
    return best, where, spread


def compare(a: np.ndarray, b: np.ndarray) -> Comparison:
    """Compare luma thumbnails ``a`` and ``b`` (float32 (H, W), 0..1, same shape; about
    160 pixels wide) of source frames i and i + 1. Takes about 10-30 ms."""
    a = np.ascontiguousarray(a, np.float32)
    b = np.ascontiguousarray(b, np.float32)
    if min(a.shape) < 2 * BLOCK:
        return Comparison(float(np.abs(a - b).mean()), 0.0, 0)
    zero_mean = [(x - x.mean()) / max(float(x.std()), 1e-3) for x in (a, b)]
    peaks = _peaks(*zero_mean, PEAKS)
    search = sorted({(cy + dy, cx + dx) for cy, cx in {(0, 0), *peaks}
                     for dy in range(-RADIUS, RADIUS + 1) for dx in range(-RADIUS, RADIUS + 1)})
    best, where, spread = _best_match(a, b, search)
    counted = (spread > MIN_BLOCK_STD) & np.isfinite(best) & _inside(best.shape, a.shape, peaks[0])
    if counted.sum() < MIN_BLOCKS:
        return Comparison(float(np.abs(a - b).mean()), 0.0, int(counted.sum()))
    difference = float(np.clip(np.median(1 - best[counted]), 0, 1))
    sure = counted & (best > SURE_MATCH)
    shift = np.hypot(where[..., 0], where[..., 1])[sure]
    motion = float(np.percentile(shift, 90)) if shift.size else 0.0
    return Comparison(difference, motion, int(counted.sum()))


def _inside(grid: tuple[int, int], shape: tuple[int, int], shift: tuple[int, int]) -> np.ndarray:
    """Blocks (``grid`` rows x cols of :data:`BLOCK` pixels in a frame of ``shape``) that
    stay inside the frame when moved by ``shift`` (dy, dx): the rest leaves the frame with
    the dominant motion and has no counterpart to be compared with."""
    rows, cols = grid
    ys = np.arange(rows)[:, None] * BLOCK + shift[0]
    xs = np.arange(cols)[None, :] * BLOCK + shift[1]
    return (ys >= 0) & (ys + BLOCK <= shape[0]) & (xs >= 0) & (xs + BLOCK <= shape[1])

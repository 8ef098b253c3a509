"""Semi-transparent static overlays (a channel logo, a watermark at alpha 0.1-0.9) over a
background that moves by one whole-pixel shift: taken out of both source frames before the
network runs and put back over its frame.

Model: inside the overlay, I_t(x) = P(x) + k B_t(x): a static layer P (the overlay's colour
times its alpha) over the moving background B seen through k = 1 - alpha, with
B_1(x) = B_0(x - v) for the pair's shift v. The network cannot interpolate such pixels: each
carries two motions at once (none for P, v for B). Masks and blends (:mod:`vsvfi.protect`)
cannot either: the blend drags B's old and new positions into a double image under the logo.
Separated, the network interpolates B alone and the output is P + k B_t.

1. The shift: the candidate shifts of :func:`vsvfi.protect.motion_shifts`; the one that
   explains the most of the frame (largest channel difference at most :data:`EXPLAINED`) must
   explain :data:`SHARE` of it, else nothing is done (zooms, parallax, shaking objects, and
   pans by fractions of a pixel: this form of the model needs whole pixels).
2. The overlay's pixels: those the shift explains in neither direction (frame 0 at x against
   frame 1 at x + v, frame 1 at x against frame 0 at x - v: above :data:`UNEXPLAINED`),
   opened, closed, holes filled and grown by :data:`GROW` px; along the frame edges, where
   one of the two comparisons leaves the frame, the other one alone (``full``), or neither
   (``core``).
3. k per connected part: along v the frames' difference telescopes. The sum of I0 - I1 over
   a run of the part is k times the background's change from where the run enters to where
   it leaves, both seen in the clear, so k is their least-squares ratio over the runs that
   enter and leave inside the frame (:func:`opacities`). A run's end pixels in the grown rim
   that their own side explains are background and are left out of it (else they pull k
   towards 1). A part is kept when k lies in :data:`K_RANGE`, the runs agree on it
   (residual at most :data:`FIT` of the difference, sums of squares; the better of the part
   whole and without its one-sided pixels), at least :data:`CORE` of it is unexplained on
   both sides, and at most :data:`UNDER_FILTER` of it is under the protection's own overlay
   mask (opaque text, which that handles). A kept part is carried across the last
   :data:`EDGE` pixels to a frame edge it reaches (the closing leaves them out).
4. The backgrounds (:func:`backgrounds`): with k, B_0 inside the parts is the least-squares
   solution (conjugate gradients) of k (B_0(x) - B_0(x - v)) = I_0(x) - I_1(x), of
   B_0(x - v) = I_1(x) where a run leaves, and of a weak smoothness term (:data:`SMOOTH`;
   runs that never leave the frame); B_1 = B_0 + (I_1 - I_0) / k. The network runs on the
   backgrounds (the rest of the protection too); :func:`composite` puts P = I_0 - k B_0
   back: P + k times the network's frame.

Cost (docs/protection.md, "Semi-transparent overlays as layers"): about 33 ms per 1080p pair
to find the shift on this machine's CPU, most of it the phase correlation, which the filter
now takes from the protection's masks (they need it too); where it explains the frame,
0.1-0.8 s more.

Measured on the overlay family (every set over the pans and the shake) in
docs/layer-ceiling.md (``scripts/layer_ceiling.py``), with what the same model reaches given
the true overlay mask and what a perfect separation would. Found on no case of the other
families (objects over pans among them) and on no pair of the sample clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import cg

from .protect import MIN_SHIFT, motion_shifts

#: A shift explains a pixel within EXPLAINED and misses it above UNEXPLAINED (largest channel
#: difference, 0..1).
EXPLAINED, UNEXPLAINED = 3 / 255, 4 / 255
#: Share of the frame the pair's shift must explain.
SHARE = 0.85
#: Accepted range of k (1 - alpha); beyond it the blend or the network alone does as well.
K_RANGE = (0.1, 0.9)
#: Largest residual of the runs' fit of k, over the runs' difference (sums of squares).
FIT = 0.3
#: Least share of a part unexplained on both sides (not only along a frame edge).
CORE = 0.5
#: Largest share of a part under the protection's own overlay mask.
UNDER_FILTER = 0.2
#: Pixels the overlay's pixels are grown by (its anti-aliased rim).
GROW = 2
#: Pixels along the frame edges that the found mask is carried across (:func:`_to_edges`).
EDGE = 4
#: Weight of the smoothness term against the data terms of :func:`backgrounds`.
SMOOTH = 0.1
#: Relative tolerance and most steps of the conjugate gradients of :func:`backgrounds`.
CG_TOL, CG_STEPS = 1e-7, 1000
#: Grid step (pixels) on which :func:`dominant_shift` compares the frames; a grid point is
#: textured where the 5x5 range around it (largest over the channels) is at least TEXTURED;
#: shifts within NEAR px of the best peak are tried too (:mod:`vsvfi.protect` keeps peaks
#: MIN_SHIFT apart, so a weaker true one may sit beside a chance one).
GRID, TEXTURED, NEAR = 16, 8 / 255, MIN_SHIFT - 1
#: At most this many textured grid points rank the shifts (evenly spread).
RANKED = 2000


@dataclass(frozen=True)
class TranslucentLayer:
    """What :func:`find` separated: the overlay's pixels (``ys``, ``xs``: int (N,)), its
    static layer ``p`` (float32 (3, N), RGB 0..1) and background factor ``k`` (float32 (N,),
    1 - alpha), the pair's ``shift`` (dy, dx pixels, I1(x + v) = I0(x) for the background)
    and the two ``backgrounds`` (float32 (3, H, W), the source frames without the overlay)."""

    ys: np.ndarray
    xs: np.ndarray
    p: np.ndarray
    k: np.ndarray
    shift: tuple[int, int]
    backgrounds: tuple[np.ndarray, np.ndarray]


def moved(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``img`` (..., H, W) at x + (dy, dx), float32, NaN where that leaves the frame."""
    h, w = img.shape[-2:]
    out = np.full(img.shape, np.nan, np.float32)
    ys, yd = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    xs, xd = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[..., ys, xs] = img[..., yd, xd]
    return out


def dominant_shift(img0: np.ndarray, img1: np.ndarray, groups: list | None = None) -> tuple[float, tuple[int, int]]:
    """(share of the frame within :data:`EXPLAINED`, shift (dy, dx)) of the shift of
    :func:`vsvfi.protect.motion_shifts` that explains most of a pair (float (3, H, W) in
    [0, 1]); compared on a :data:`GRID` grid, each group's centre first, then the best
    group's members and the shifts within :data:`NEAR` px of its centre. Shifts are ranked
    on the grid's textured points (5x5 range at least :data:`TEXTURED`; all points where
    fewer than 16 are; at most :data:`RANKED` of them): flat ones agree under any shift near the motion. ``groups``: that
    function's result when known. (0, (0, 0)) where no shift is found."""
    h, w = img0.shape[1:]
    rows, cols = np.arange(GRID // 2, h, GRID), np.arange(GRID // 2, w, GRID)
    ys, xs = (g.ravel() for g in np.meshgrid(rows, cols, indexing="ij"))
    around = [img0[:, np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)] for dy in range(-2, 3)
              for dx in range(-2, 3)]
    textured = (np.max(around, axis=0) - np.min(around, axis=0)).max(axis=0) >= TEXTURED
    if textured.sum() < 16:
        textured[:] = True
    everywhere = (ys, xs, img0[:, ys, xs].astype(np.float32))
    pick = np.nonzero(textured)[0]
    pick = pick[::max(1, -(-len(pick) // RANKED))]  # a few thousand rank shifts as well as all of them
    ranked = (ys[pick], xs[pick], everywhere[2][:, pick])

    def share(dy, dx, points=ranked):
        inside = ((rows + dy >= 0) & (rows + dy < h)).sum() * ((cols + dx >= 0) & (cols + dx < w)).sum()
        if inside < max(1, len(rows) * len(cols) // 4):  # a frame smaller than the grid, or a shift beyond it
            return 0.0
        y, x, a = points
        ok = (y + dy >= 0) & (y + dy < h) & (x + dx >= 0) & (x + dx < w)
        d = np.abs(a[:, ok] - img1[:, y[ok] + dy, x[ok] + dx]).max(axis=0) <= EXPLAINED
        return float(d.mean()) if d.size else 0.0

    groups = motion_shifts(img0, img1) if groups is None else groups
    if not groups:
        return 0.0, (0, 0)
    centre = max(groups, key=lambda g: share(*g[len(g) // 2]))
    cy, cx = centre[len(centre) // 2]
    # the true shift may sit within MIN_SHIFT of a stronger chance peak, which hid it
    near = [(cy + ey, cx + ex) for ey in range(-NEAR, NEAR + 1) for ex in range(-NEAR, NEAR + 1)]
    best = max(dict.fromkeys([*centre, *near]), key=lambda s: share(*s))
    whole = share(*best, everywhere)
    return (whole, best) if whole > 0 else (0.0, (0, 0))


def _last(mask: np.ndarray, v: tuple[int, int], sign: int):
    """For each pixel of ``mask`` (its y, x) the last pixel of ``mask`` reached stepping by
    ``sign`` times ``v`` from it."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    cy, cx = ys.copy(), xs.copy()
    active = np.ones(len(ys), bool)
    while active.any():
        ny, nx = cy + sign * v[0], cx + sign * v[1]
        ok = active & (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        ok[ok] = mask[ny[ok], nx[ok]]
        cy[ok], cx[ok] = ny[ok], nx[ok]
        active = ok
    return ys, xs, cy, cx


def opacities(img0: np.ndarray, img1: np.ndarray, labels: np.ndarray, n: int, v: tuple[int, int],
              explained: tuple[np.ndarray, np.ndarray] | None = None):
    """Per label 1..``n`` of ``labels`` (int (H, W), 0: none): k from the runs along ``v``
    that enter and leave inside the frame (NaN without any; step 3 of the module docstring)
    and the runs' residual over their difference (sums of squares); float64 (n + 1,) each;
    and the pixels left out of their runs (bool (H, W)). ``explained`` (bool (H, W) each:
    frame 0 at x found in frame 1 at x + v, frame 1 at x found in frame 0 at x - v): a run's
    end pixels that its own side explains are background (a grown rim) and are left out of
    it, so they do not pull k towards 1. Raises ValueError for ``v`` = (0, 0)."""
    if not any(v):
        raise ValueError("opacities needs a shift other than (0, 0)")
    h, w = labels.shape
    mask = labels > 0
    ys, xs, sy, sx = _last(mask, v, -1)
    _, _, ey, ex = _last(mask, v, 1)
    axis = 0 if v[0] else 1
    step = (ys - sy, xs - sx)[axis] // v[axis]  # each pixel's place in its run
    starts, first, run_of = np.unique(sy * w + sx, return_index=True, return_inverse=True)
    lo = np.zeros(len(starts), np.int64)
    hi = ((ey - sy, ex - sx)[axis] // v[axis])[first]
    if explained is not None:
        fwd, bwd = explained
        for side, sign, at in ((bwd, 1, lo), (fwd, -1, hi)):  # at: lo or hi itself
            while True:
                y, x = sy[first] + at * v[0], sx[first] + at * v[1]
                more = (lo < hi) & side[y, x]
                if not more.any():
                    break
                at[more] += sign
    iy, ix = sy[first] + (lo - 1) * v[0], sx[first] + (lo - 1) * v[1]
    oy, ox = sy[first] + (hi + 1) * v[0], sx[first] + (hi + 1) * v[1]
    whole = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w) & (oy >= 0) & (oy < h) & (ox >= 0) & (ox < w)
    if explained is not None:  # a run of background only (a grown rim along v) says nothing
        whole &= ~(bwd[sy[first] + lo * v[0], sx[first] + lo * v[1]] & fwd[sy[first] + hi * v[0], sx[first] + hi * v[1]])
    use = whole[run_of] & (step >= lo[run_of]) & (step <= hi[run_of])
    diff = (img0[:, ys[use], xs[use]] - img1[:, ys[use], xs[use]]).astype(np.float64)
    num = np.stack([np.bincount(run_of[use], diff[c], len(starts)) for c in range(3)])[:, whole]
    den = (img1[:, oy[whole], ox[whole]].astype(np.float64) - img0[:, iy[whole], ix[whole]])
    part = labels[sy[first][whole], sx[first][whole]]
    nd = np.bincount(part, (num * den).sum(axis=0), n + 1)
    dd = np.bincount(part, (den * den).sum(axis=0), n + 1)
    k = np.where(dd > 0, nd / np.maximum(dd, 1e-12), np.nan)
    res = np.bincount(part, ((num - np.nan_to_num(k)[part] * den) ** 2).sum(axis=0), n + 1)
    out = np.zeros(mask.shape, bool)
    out[ys, xs] = (step < lo[run_of]) | (step > hi[run_of])
    return k, res / np.maximum(np.bincount(part, (num * num).sum(axis=0), n + 1), 1e-12), out


def _to_edges(labels: np.ndarray, band: int) -> np.ndarray:
    """``labels`` (int (H, W), 0: none) carried across the ``band`` pixels along each frame
    edge where they reach the band's inner side (the closing's erosion leaves such a gap:
    outside the frame counts as off); labels already there stay."""
    out = labels.copy()
    h, w = labels.shape
    if h > 2 * band and w > 2 * band:
        for edge, inner in (((slice(None, band),), band), ((slice(h - band, None),), h - band - 1)):
            out[edge] = np.where(out[edge] > 0, out[edge], labels[inner][None])
        for edge, inner in (((slice(None), slice(None, band)), band), ((slice(None), slice(w - band, None)), w - band - 1)):
            out[edge] = np.where(out[edge] > 0, out[edge], labels[:, inner][:, None])
    return out


def found_masks(img0: np.ndarray, img1: np.ndarray, v: tuple[int, int]):
    """The overlay's pixels under shift ``v`` (step 2 of the module docstring): ``full``
    and ``core``; and the pixels of ``full``'s grown rim where the shift explains frame 0
    forwards and frame 1 backwards (:func:`opacities`' ``explained``); bool (H, W) each."""
    f = np.abs(img0 - moved(img1, *v)).max(axis=0)
    g = np.abs(img1 - moved(img0, -v[0], -v[1])).max(axis=0)
    fn, gn = np.isnan(f), np.isnan(g)
    f, g = np.nan_to_num(f, nan=1.0), np.nan_to_num(g, nan=1.0)
    cands = ((((f > UNEXPLAINED) | fn) & ((g > UNEXPLAINED) | gn) & ~(fn & gn)),
             (f > UNEXPLAINED) & (g > UNEXPLAINED) & ~fn & ~gn)
    rows, cols = (np.nonzero(cands[0].any(axis=k))[0] for k in (1, 0))
    full, ungrown, core = (np.zeros(f.shape, bool) for _ in range(3))
    if rows.size:  # the morphology on the candidates' box and the reach of its filters: the same masks
        m = 16
        box = (slice(max(0, rows[0] - m), rows[-1] + 1 + m), slice(max(0, cols[0] - m), cols[-1] + 1 + m))
        for cand, grown, plain in zip(cands, (full, core), (ungrown, None)):
            cand = ndimage.binary_opening(cand[box], np.ones((3, 3), bool))
            mask = ndimage.binary_fill_holes(ndimage.binary_closing(cand, np.ones((5, 5), bool), iterations=2))
            grown[box] = ndimage.binary_dilation(mask, np.ones((3, 3), bool), iterations=GROW) if mask.any() else mask
            if plain is not None:
                plain[box] = mask
    rim = full & ~ungrown
    return full, core, (rim & (f <= EXPLAINED), rim & (g <= EXPLAINED))


def _judged(img0, img1, masks, v, covered) -> tuple[np.ndarray, np.ndarray]:
    """The accepted parts (bool (H, W)) and their k (float64 (H, W), 1 elsewhere): step 3
    of the module docstring; ``covered`` (bool (H, W)): the protection's overlay mask."""
    full, core, explained = masks
    labels, n = ndimage.label(full, np.ones((3, 3), bool))
    inner = np.where(core & full, labels, 0)
    k_full, fit_full, rim_full = opacities(img0, img1, labels, n, v, explained)
    k_core, fit_core, rim_core = opacities(img0, img1, inner, n, v, explained)
    size = np.maximum(np.bincount(labels.ravel(), None, n + 1), 1)
    core_share = np.bincount(inner.ravel(), None, n + 1) / size
    core_share[0] = 0
    under = np.bincount(labels.ravel(), covered.ravel(), n + 1) / size
    ok = (core_share >= CORE) & (under <= UNDER_FILTER)
    fits = []
    for k, fit in ((k_full, fit_full), (k_core, fit_core)):
        good = ok & (np.nan_to_num(k, nan=-1) >= K_RANGE[0]) & (np.nan_to_num(k, nan=2) <= K_RANGE[1]) & (fit <= FIT)
        fits.append(np.where(good, fit, np.inf))
    use_core = fits[1] < fits[0]
    chosen = np.where(use_core, k_core, k_full)
    chosen[0] = 1.0
    keep = np.isfinite(np.minimum(*fits))
    keep[0] = False
    picked = np.where(keep[labels] & ~use_core[labels] & ~rim_full, labels, 0)
    picked = np.where(keep[inner] & use_core[inner] & ~rim_core, inner, picked)
    picked = _to_edges(picked, EDGE)
    return picked > 0, chosen[picked]


def backgrounds(img0: np.ndarray, img1: np.ndarray, mask: np.ndarray, kmap: np.ndarray,
                 v: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(B0, B1) float64 (3, H, W): the frames with the layer on ``mask`` (k: ``kmap``) taken
    out by least squares (step 4 of the module docstring)."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    idx = np.full((h, w), -1, np.int64)
    idx[ys, xs] = np.arange(len(ys))
    k = kmap[ys, xs]
    rows, cols, vals, rhs = [], [], [], []

    def add(i, j, target, weight):  # weight (B[i] - B[j]) = weight target; no B[j] where j < 0
        r = sum(t.shape[1] for t in rhs) + np.arange(len(i))
        rows.extend((r, r[j >= 0]))
        cols.extend((i, j[j >= 0]))
        vals.extend((weight, -weight[j >= 0]))
        rhs.append(target * weight)

    def inside(y, x):
        return (y >= 0) & (y < h) & (x >= 0) & (x < w)

    a, b = img0.astype(np.float64), img1.astype(np.float64)
    qy, qx = ys - v[0], xs - v[1]  # along the motion
    i = np.nonzero(inside(qy, qx))[0]
    j = idx[qy[i], qx[i]]
    known = np.where(j >= 0, 0.0, a[:, qy[i], qx[i]])
    add(i, j, (a[:, ys[i], xs[i]] - b[:, ys[i], xs[i]]) / k[i] + known, k[i] / np.sqrt(2))
    oy, ox = ys + v[0], xs + v[1]  # where a run leaves
    ok = inside(oy, ox)
    ok[ok] = ~mask[oy[ok], ox[ok]]
    i = np.nonzero(ok)[0]
    add(i, np.full(len(i), -1), b[:, oy[i], ox[i]], np.ones(len(i)))
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):  # smoothness; each pair inside once
        ny, nx = ys + dy, xs + dx
        i = np.nonzero(inside(ny, nx))[0]
        j = idx[ny[i], nx[i]]
        if dy + dx < 0:
            i, j = i[j < 0], j[j < 0]
        add(i, j, np.where(j >= 0, 0.0, a[:, ny[i], nx[i]]), np.full(len(i), SMOOTH))
    matrix = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(sum(t.shape[1] for t in rhs), len(ys)))
    normal = (matrix.T @ matrix).tocsr()
    target = np.asarray(matrix.T @ np.concatenate(rhs, axis=1).T)
    # conjugate gradients from the frame itself: several times faster than a sparse LU
    # on a 1080p logo (docs/protection.md, "Cost"), within 0.01 code values
    sol = np.stack([cg(normal, target[:, c], x0=a[c, ys, xs], rtol=CG_TOL, maxiter=CG_STEPS)[0]
                    for c in range(3)], axis=1)
    b0, b1 = a.copy(), b.copy()
    b0[:, ys, xs] = sol.T
    b1[:, ys, xs] = sol.T + (b[:, ys, xs] - a[:, ys, xs]) / k
    return b0, b1


def find(img0: np.ndarray, img1: np.ndarray, covered: np.ndarray | None = None,
         groups: list | None = None) -> TranslucentLayer | None:
    """The semi-transparent static overlay of a pair (float (3, H, W) in [0, 1]) over a
    whole-pixel shift, separated from the background (module docstring); None where the
    pair's shift explains less than :data:`SHARE` of the frame or no part fits the model.
    ``covered`` (float (H, W), > 0 where the protection's overlay mask is): parts mostly
    under it are left to the protection. ``groups``: the pair's
    :func:`vsvfi.protect.motion_shifts` when known."""
    share, v = dominant_shift(img0, img1, groups)
    if share < SHARE or v == (0, 0):
        return None
    covered = np.zeros(img0.shape[1:], bool) if covered is None else covered > 0
    mask, kmap = _judged(img0, img1, found_masks(img0, img1, v), v, covered)
    if not mask.any():
        return None
    b0, b1 = backgrounds(img0, img1, mask, kmap, v)
    ys, xs = np.nonzero(mask)
    k = kmap[ys, xs]
    p = img0[:, ys, xs] - k * b0[:, ys, xs]
    fmt = img0.dtype
    return TranslucentLayer(ys, xs, p.astype(np.float32), k.astype(np.float32), v,
                            (np.clip(b0, 0, 1).astype(fmt), np.clip(b1, 0, 1).astype(fmt)))


def composite(frame: np.ndarray, layer: TranslucentLayer | None) -> np.ndarray:
    """The network's ``frame`` (3, H, W) of the two backgrounds with the layer put back
    over it (P + k frame on the layer's pixels); ``frame`` itself where ``layer`` is None."""
    if layer is None:
        return frame
    out = frame.copy()
    out[:, layer.ys, layer.xs] = layer.p + layer.k * frame[:, layer.ys, layer.xs].astype(np.float32)
    return out

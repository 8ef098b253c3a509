"""Static overlays in encoded frames, for :mod:`vsvfi.protect`: a codec's noise and ringing
make static text differ between two frames by a few code values, growing with the edge's
contrast, so exact agreement finds little of it (docs/protection.md, "Encoded frames").

- :func:`codec_static`: edge pixels whose difference between the frames is small against
  their contrast (static under a codec's noise). The protection grows every overlay it
  found into them.
- :func:`dominant_share`: how much of the pair's textured motion one shift carries (a
  whole-pixel shift, or one a quarter or half pixel beside it), within a codec's noise.
  Where one shift carries most of it (a pan, a shake, a scroll), the protection also seeds
  overlays on :func:`codec_static` pixels: a static edge surrounded by one coherent motion
  is drawn over it. In real footage without such a
  motion (a head moving in front of a still background, whose edges carry the camera's
  noise), seeds from this test painted the background's edges out of the network's inputs
  and cost 0.17-0.22 dB on bikes and carphone, so there the seeds keep to exact agreement.

Frames are float32 (3, H, W) RGB in [0, 1]; differences are the largest over the channels.
"""

from __future__ import annotations

import numpy as np

from .neighbourhood import box, dilate, range3, sample, smoothstep
from .zoom import zoom_fit

#: Radius (pixels) of the neighbourhood whose share of exactly static edges ``Protection.clean`` reads.
CLEAN_RADIUS = 16
#: A shift carries a moving pixel when it brings it back within this many code values (/255)
#: or this fraction of the pixel's 3x3 range, whichever is larger: a codec's error on an
#: edge grows with its contrast. Pixels that differ by less between the frames are not
#: moving.
NOISE, NOISE_SHARE = 4 / 255, 0.15
#: 3x3 range (a smoothstep) that makes a pixel textured enough to say where it went.
TEXTURE = (0.05, 0.1)
#: Pixels a moving pixel must differ from its neighbour this far along the shift for the
#: shift to be judged on it (along a stripe, any shift along it matches).
STEP = 3
#: Share of the moving pixels one shift must carry (a smoothstep) for the seeds of the codec
#: test: above every pair of the sample clips at 1x and 1/2 their frame rate but two of
#: bikes' pans (at most 0.717, where the codec test seeds nothing), below the encoded overlay
#: family's pans and shakes (0.74 and up) and 28 of the 31 held-out sub-pixel pans (all at
#: 0.68 and up; docs/protection.md, "Held-out overlays").
DOMINANT = (0.6, 0.72)
#: Where no shift carries the pair (a zoom), the share one zoom and pan carries
#: (:func:`zoom_gate`, a smoothstep) opens the gate instead, while at most :data:`STILL` of
#: the textured pixels stay put (a smoothstep down to 0 there) and the zoom moves the
#: frame's edges by :data:`ZOOM_SPAN` pixels or more against its centre (a smoothstep; a
#: periodic texture sliding over a pan passed as a "zoom" of rate 0), and the seeds then read
#: :func:`codec_static` with ``relative`` at :data:`ZOOM_RELATIVE`: the encoded overlay
#: family's zooms carry 0.54-0.61, and real footage moving under one such motion has
#: slightly moving edges that the codec test would call static (docs/protection.md, "A zoom
#: for the codec gate").
ZOOM = (0.45, 0.55)
STILL = (0.3, 0.2)
ZOOM_SPAN = (1.0, 2.0)
ZOOM_RELATIVE = (0.05, 0.1)
#: :func:`zoom_gate` reads the zoom's share on the pair block-averaged w // SHARE_WIDTH times
#: (frames 1280 px wide and up), as :func:`vsvfi.protect.motion_shifts` reads its peaks: at full
#: size a zoom upscaled 3x carries 0.46 of its moving pixels (0.60 at 640 px wide), its edges
#: too soft for the tolerance's share of their contrast, which the codec's upscaled noise
#: exceeds (docs/protection.md, "The zoom gate at any frame size").
SHARE_WIDTH = 640
#: Fractions of a pixel (quarters) :func:`dominant_share` tries beside the best whole shift.
OFFSETS = (-0.5, -0.25, 0.0, 0.25, 0.5)
#: :func:`dominant_share` reads every GRID-th row and column of frames up to GRID_WIDTH pixels
#: wide (a coarser grid on wider ones), and at most SAMPLES of their moving pixels.
GRID, GRID_WIDTH, SAMPLES = 2, 640, 10000


def codec_static(img0: np.ndarray, img1: np.ndarray, d: np.ndarray, p, spread: np.ndarray | None = None) -> np.ndarray:
    """float32 (H, W) in [0, 1]: pixels of edges whose difference ``d`` between the frames (the
    largest over the channels) is small against their contrast, where most such pixels around
    do not agree exactly (static under a codec's noise; ``relative``, ``strong``, ``clean``,
    ``exact`` and ``still`` of the :class:`vsvfi.protect.Protection` ``p``). ``spread``: the
    3x3 range of ``img0`` when known."""
    edge = codec_edges(img0, img1, d, p, spread)
    share = box(edge * (d <= p.exact[0]), CLEAN_RADIUS) / np.maximum(box(edge, CLEAN_RADIUS), 1e-3)
    edge = edge * smoothstep(share, *p.clean)
    return edge * smoothstep(box(edge, 1), *p.still)  # not chance agreements of single pixels


def codec_edges(img0: np.ndarray, img1: np.ndarray, d: np.ndarray, p,
                spread: np.ndarray | None = None) -> np.ndarray:
    """float32 (H, W) in [0, 1]: edge pixels (3x3 range c of both frames between ``strong``)
    whose difference ``d`` between the frames is small against c (d / c between
    ``relative``): :func:`codec_static`'s first test, without its guard for clean frames.
    Arguments as :func:`codec_static`'s."""
    c = np.minimum(range3(img0) if spread is None else spread, range3(img1))
    return smoothstep(d / np.maximum(c, 1e-3), p.relative[1], p.relative[0]) * smoothstep(c, *p.strong)


def outline_edge(img0: np.ndarray, img1: np.ndarray, box: tuple[slice, slice], d: np.ndarray, grown: np.ndarray,
                 p) -> np.ndarray:
    """float32 over ``box``: more pixels for the protection's ``keep`` (the blend goes in;
    painted out too where fully kept and not static): those next to the fully ``grown``
    overlay (float32 over ``box``) that pass :func:`codec_edges` (``d``: over ``box``).
    Under a codec's noise the outer edge of a light outline beside a moving background
    differs by a few code values between the frames and is grown in part only; the
    network's frame, dragging the text along, leaked into it (docs/protection.md, "The
    outline's edge under a codec"). Read only where one motion carries the pair (the
    codec test's gate), like the seeds through the codec."""
    edge = codec_edges(img0[(slice(None), *box)], img1[(slice(None), *box)], d, p)
    return dilate((grown >= p.painted).astype(np.float32), 1) * edge


def moving_pixels(img0: np.ndarray, img1: np.ndarray, spread: np.ndarray | None) -> tuple:
    """(ys, xs, I0 there (3, N), tolerance, weight, still) of the pair's textured moving pixels
    on the grid (:data:`GRID`, at most :data:`SAMPLES` of them, evenly spread; ``still``: the
    share of the textured grid pixels that do not move); () without any. The shift and the
    zoom tests read them (``moving`` of :func:`dominant_share` and :func:`zoom_gate`)."""
    h, w = img0.shape[1:]
    step = GRID * max(1, round(w / GRID_WIDTH))
    ys, xs = (g.ravel() for g in np.mgrid[0:h:step, 0:w:step])
    r = (range3(img0) if spread is None else spread)[ys, xs]
    tol = np.maximum(NOISE, NOISE_SHARE * r)
    a = img0[:, ys, xs]
    textured = r >= TEXTURE[0]
    keep = np.nonzero(textured & (np.abs(a - img1[:, ys, xs]).max(axis=0) > tol))[0]
    if not keep.size:
        return ()
    still = 1 - keep.size / int(textured.sum())
    keep = keep[::-(-keep.size // SAMPLES)]
    return ys[keep], xs[keep], a[:, keep], tol[keep], smoothstep(r[keep], *TEXTURE), still


def dominant_share(img0: np.ndarray, img1: np.ndarray, groups: list[list[tuple[int, int]]],
                   spread: np.ndarray | None = None, moving: tuple | None = None) -> float:
    """The largest share (0..1) of the pair's textured moving pixels that one whole-pixel shift
    v (I1(x + v) = I0(x)) of ``groups`` (:func:`vsvfi.protect.motion_shifts`: each group's
    centre first, then the best group's members) carries within :data:`NOISE` /
    :data:`NOISE_SHARE`; where that is below ``DOMINANT[1]``, also v plus the best of
    :data:`OFFSETS` across the columns, then the rows (I1 read bilinearly): a real pan is
    rarely a whole number of pixels. Moving: differing between the frames by more than that; counted
    for v only where the pixel also differs from its neighbour :data:`STEP` pixels along v
    (an edge along v matches itself under any shift along it), leaving the frame under v
    counts as not carried. ``spread``: the 3x3 range of ``img0`` (float32 (H, W)) and
    ``moving``: :func:`moving_pixels` of the pair, when known. Read on a grid (:data:`GRID`);
    0 without shifts or moving pixels."""
    if not groups:
        return 0.0
    h, w = img0.shape[1:]
    moving = moving_pixels(img0, img1, spread) if moving is None else moving
    if not moving:
        return 0.0
    ys, xs, a, tol, weight, _ = moving

    def differs(img, dy, dx, off=(0.0, 0.0)):  # a against img at the pixels moved by (dy, dx); False where that leaves the frame
        y, x = ys + dy, xs + dx
        inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        if not any(off):
            return inside & (np.abs(a - img[:, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]).max(axis=0) > tol), inside
        at = sample(img, y + off[0], x + off[1])[0]  # bilinear, a fraction of a pixel further
        return inside & (np.abs(a - at).max(axis=0) > tol), inside

    judged_along = {}  # the shifts of a group mostly share a direction

    def share(dy, dx, off=(0.0, 0.0)):
        s = max(abs(dy), abs(dx))
        if not s:  # no motion carries nothing
            return 0.0
        step = (round(STEP * dy / s), round(STEP * dx / s))
        if step not in judged_along:
            judged_along[step] = weight * differs(img0, *step)[0]
        judged = judged_along[step]
        far, inside = differs(img1, dy, dx, off)
        return float((judged * (inside & ~far)).sum() / max(float(judged.sum()), 1e-6))

    centre = max(groups, key=lambda g: share(*g[len(g) // 2]))
    whole, v = max(((share(*s), s) for s in centre), key=lambda t: t[0])  # the first of equal ones
    if whole >= DOMINANT[1]:  # the gate is open already
        return whole
    # a pan a fraction of a pixel off every whole shift: the best offset in quarter pixels,
    # across the columns, then the rows
    ox = max(OFFSETS, key=lambda f: share(*v, (0.0, f)))
    return max(whole, *(share(*v, (f, ox)) for f in OFFSETS))


def zoom_share(img0: np.ndarray, img1: np.ndarray, spread: np.ndarray, moving=None, model=None) -> float:
    """The share (0..1) of the pair's textured moving pixels that one zoom and pan
    (:func:`vsvfi.zoom.zoom_fit`, v(x) = k x + t, I1 read bilinearly) carries within
    :data:`NOISE` / :data:`NOISE_SHARE`, judged as :func:`dominant_share` judges a shift: only
    where the pixel differs from its neighbour :data:`STEP` pixels along its own v, which
    must be half a pixel or more. ``spread``: float32 (H, W), the 3x3 range of ``img0``;
    ``moving``: :func:`moving_pixels` of the pair, ``model``: its (k, ty, tx), when known. 0
    where the fit fails or nothing moves."""
    moving = moving_pixels(img0, img1, spread) if moving is None else moving
    p = model if model is not None or not moving else zoom_fit(img0, img1, spread)
    if p is None or not moving:
        return 0.0
    h, w = img0.shape[1:]
    ys, xs, a, tol, weight, _ = moving
    vy, vx = (p[0] * ys + p[1]).astype(np.float32), (p[0] * xs + p[2]).astype(np.float32)
    s = np.maximum(np.abs(vy), np.abs(vx))
    along = s >= 0.5
    ny, nx = (np.where(along, np.rint(STEP * v / np.maximum(s, 1e-6)), 0).astype(np.intp) for v in (vy, vx))
    y, x = ys + ny, xs + nx
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    differs = np.abs(a - img0[:, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]).max(axis=0) > tol
    judged = weight * (inside & along & differs)
    at, there = sample(img1, ys + vy, xs + vx)
    carried = there & (np.abs(a - at).max(axis=0) <= tol)
    return float((judged * carried).sum() / max(float(judged.sum()), 1e-6))


def averaged(img: np.ndarray, f: int) -> np.ndarray:
    """float32 (3, H // f, W // f): the mean of each f x f block of ``img`` (3, H, W)."""
    h, w = img.shape[1] // f * f, img.shape[2] // f * f
    out = img[:, 0:h:f, 0:w:f].copy()
    for dy in range(f):  # f * f strided views: a quarter of the time of a reshaped mean
        for dx in range(f):
            if dy or dx:
                out += img[:, dy:h:f, dx:w:f]
    out *= np.float32(1 / (f * f))
    return out


def zoom_gate(img0: np.ndarray, img1: np.ndarray, spread: np.ndarray, moving: tuple | None = None) -> float:
    """How far (0..1) one zoom and pan moves the whole picture: :func:`zoom_share` between
    :data:`ZOOM`, times the share of the textured pixels that do not move between
    :data:`STILL` (a head moving in front of a still background is carried by such a model
    too, but most of its picture stays put), times how far the zoom's rate k moves the
    frame's edges against its centre (|k| times half the larger side, pixels) between
    :data:`ZOOM_SPAN` (a pan is the shift route's to judge, at its own thresholds). The share
    is read on the pair block-averaged to about :data:`SHARE_WIDTH` pixels wide. 0 where
    nothing moves or the fit fails. ``moving``: :func:`moving_pixels` of the pair when known."""
    moving = moving_pixels(img0, img1, spread) if moving is None else moving
    if not moving or moving[5] >= STILL[0]:
        return 0.0
    model = zoom_fit(img0, img1, spread)
    span = 0.0 if model is None else abs(model[0]) * max(img0.shape[1:]) / 2
    if span <= ZOOM_SPAN[0]:
        return 0.0
    f = img0.shape[2] // SHARE_WIDTH
    if f > 1:  # the model in pixels of the averaged frames, whose pixel j is centred on f j + (f - 1) / 2
        a, b = (averaged(x, f) for x in (img0, img1))
        o = model[0] * (f - 1) / 2
        share = zoom_share(a, b, range3(a), None, (model[0], (model[1] + o) / f, (model[2] + o) / f))
    else:
        share = zoom_share(img0, img1, spread, moving, model)
    return float(smoothstep(np.float32(share), *ZOOM) * smoothstep(np.float32(moving[5]), *STILL)
                 * smoothstep(np.float32(span), *ZOOM_SPAN))

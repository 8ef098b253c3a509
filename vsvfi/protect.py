"""Static-overlay protection (``Interpolate(protect_static=True)``) on numpy arrays, once
per pair of source frames inside its preparation: no VapourSynth nodes (a chain of them
left the memory of long renders growing, docs/reliability.md "Memory"); scipy.ndimage's
filters release the GIL, so VapourSynth threads prepare pairs in parallel. Thresholds and
masks: :class:`Protection` (the filter uses :data:`DEFAULT`); what the motion says under an
overlay: :mod:`vsvfi.overlay_motion`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from .encoded import DOMINANT, ZOOM_RELATIVE, codec_static, dominant_share, moving_pixels, outline_edge, zoom_gate
from .motion import phase_peaks
from . import see_through
from .overlay_motion import darkened
from .see_through import HighPass, structure_static
from .neighbourhood import around, on_tiles, smoothstep
from .neighbourhood import box as _box, dilate as _dilate, extreme3 as _extreme3, gradients as _gradients
from .neighbourhood import opened as _opened, range3 as _range3, window as _window


@dataclass(frozen=True)
class Protection:
    """Static-overlay protection parameters, on RGB float frames I0, I1 in [0, 1]. Per
    pixel, d = the largest |I0 - I1| over the channels (0..1).

    - static pixels: weight 1 for d <= ``low``, 0 for d >= ``high`` (smooth in between),
      after a 3x3 morphological opening that drops isolated pixels. The output there is
      the linear blend of I0 and I1 (where they agree, the blend is the answer).
    - overlay pixels: subtitles and logos over moving content. Seeds: exactly static (d
      between ``exact``, weighted by the exactly static share of the 3x3 square between
      ``still``: strokes 2 px wide count fully, 1 px wide half, isolated chance agreements
      not at all), near high contrast (the 5x5 maximum of I0's 3x3 range between
      ``contrast``), with a mostly moving ``radius``-pixel neighbourhood
      (moving fraction between ``moving``), and within :data:`REACH` pixels of static edges
      that run both across and along (steps between ``contrast`` in both frames: where a
      periodic pattern slides along itself, only the edges along the motion stay static;
      each direction counts only above :data:`EDGES_BOTH_WAYS`: chance agreements beside a
      moving face would be fractional seeds that still blend part of their surroundings).
      Seeds that one of the pair's dominant motions explains are dropped (I1 at x + v
      within ``explained`` of I0 at x over a whole 5x5 patch, for a phase-correlation
      shift v of either sign that also carries the textured moving pixels around, with
      the static pixels there changing along v and I0 textured around x;
      :func:`_unexplained`), unless most of their part (a letter and its outline) is not
      explained (:func:`_by_parts`): a pattern moved by whole periods looks static but is
      found again at its motion all over; an overlay is not. The rest grows up to
      ``grow`` pixels into unexplained exactly static pixels of connected static regions
      no larger than ``grow_area`` of the frame (the inside of thick letters, far from
      any edge; not the static background around a moving object, which the network
      must see as it is), then by a ``rim`` of 1 pixel (anti-aliased edges mix the
      overlay with the moving background and are static in neither). For the growth (and
      the tests after the seeds), a pixel on an edge of 3x3 range c between ``strong`` in
      both frames also counts as exactly static where d / c is between ``relative``, unless
      most such pixels within :data:`vsvfi.encoded.CLEAN_RADIUS` px agree exactly (share between
      ``clean``), in 3x3 groups: a codec's noise on static text grows with its contrast.
      The seeds read that test too only where one shift (or one zoom) carries most of the
      pair's moving pixels (:mod:`vsvfi.encoded`): noisy real footage has static edges next
      to moving objects too (docs/protection.md, "Encoded frames"). Where one shift does,
      pixels whose structure is static while their values differ (a see-through watermark
      over a sub-pixel pan, :mod:`vsvfi.see_through`) are seeds and room for the growth
      too. Overlay pixels are painted out of both inputs before the network runs, so it
      cannot drag them along with the motion around them (by ``keep`` to the 4th: the fill
      stays in the output where the blend replaces a pixel in part); so are the other
      pixels that get the blend whatever the network says (``keep`` at least ``painted``,
      below) unless they are static.
    - afterwards (:meth:`combine`) the blend goes in on overlay pixels, on pixels within
      ``near`` pixels of an overlay whose inputs differ by less than ``nearly`` (a
      smoothstep: semi-transparent edges, shadows and text too small for the masks, where
      the network's own frame is the worse guess; in an exactly static region larger than
      ``grow_area`` they count as static pixels instead: a pattern moved by whole periods
      beside a static border looks the same) or that are darker in both frames than
      one of the pair's motions says, by one factor c (I = c B: a drop shadow, a dark
      outline's soft edge, a translucent dark box; c below ``shade``, the fit of c times
      the moved colours within ``shade_fit``; :func:`vsvfi.overlay_motion.darkened`), or,
      where the seeds read the codec test (one motion carries the pair), that border the fully grown overlay
      and pass that test's edge part (an outline's outer edge under a codec's noise;
      :func:`vsvfi.encoded.outline_edge`), and on the other static pixels where the
      network's frame is within ``disagree`` of the blend (where it is
      not, the network saw motion that two frames alone hide, such as a pattern that moved
      by whole periods).

    Each (lo, hi) pair is the ramp of a :func:`smoothstep`; values are fractions of the
    sample range (``still``: of the 3x3 square; ``shade``: a ratio of luma), ``radius``,
    ``near``, ``grow`` and ``rim`` are in pixels, ``grow_area`` a fraction of the frame's
    area, ``painted`` a weight of ``keep``. Tuned on the overlay, periodic and object
    families of :mod:`vsvfi.families` (docs/protection.md).
    """

    low: float = 1 / 255
    high: float = 3 / 255
    exact: tuple[float, float] = (0.5 / 255, 2 / 255)
    relative: tuple[float, float] = (0.15, 0.3)
    strong: tuple[float, float] = (0.15, 0.25)
    clean: tuple[float, float] = (0.75, 0.6)
    still: tuple[float, float] = (2 / 9, 4 / 9)
    contrast: tuple[float, float] = (0.2, 0.4)
    moving: tuple[float, float] = (0.3, 0.5)
    radius: int = 6
    disagree: tuple[float, float] = (8 / 255, 24 / 255)
    near: int = 6
    nearly: tuple[float, float] = (4 / 255, 12 / 255)
    grow: int = 12
    grow_area: float = 1 / 32
    rim: int = 1
    explained: tuple[float, float] = (2 / 255, 6 / 255)
    shade: tuple[float, float] = (0.5, 0.7)
    shade_fit: tuple[float, float] = (0.04, 0.08)
    painted: float = 0.99

    def masks(self, img0: np.ndarray, img1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`static_masks` of a pair with these parameters."""
        return static_masks(img0, img1, self)

    def combine(self, frame: np.ndarray, img0: np.ndarray, img1: np.ndarray, t: float, static: np.ndarray,
                keep: np.ndarray | None) -> np.ndarray:
        """The network's ``frame`` (3, H, W) at timestep ``t`` with the linear blend of
        ``img0``, ``img1`` put in on the ``keep`` pixels of :meth:`masks` always, and on the
        other ``static`` pixels where the network agrees with it (within ``disagree``; where
        not, it saw motion two frames hide, such as a pattern moved by whole periods)."""
        blend = img0 * np.float32(1 - t) + img1 * np.float32(t)
        gap = np.abs(frame - blend).max(axis=0)
        weight = static * smoothstep(gap, self.disagree[1], self.disagree[0])
        weight = weight if keep is None else np.maximum(weight, keep)
        return frame + (blend - frame) * weight


#: The parameters ``Interpolate(protect_static=True)`` uses.
DEFAULT = Protection()


#: Rows per strip of :func:`static_masks`: a strip's intermediate arrays stay in the CPU
#: caches (measured in docs/gpu.md, "The whole filter").
STRIP_ROWS = 64
#: How far (pixels) from an overlay pixel its structure must show static edges both across
#: and along (about half the height of a letter: the middle of a tall stroke has edges
#: across only).
REACH = 12


def static_masks(img0: np.ndarray, img1: np.ndarray,
                 params: Protection = DEFAULT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three masks of a pair of RGB frames (:func:`masks_and_motion` without the shifts).

    Args:
        img0, img1: float32 (3, H, W) in [0, 1], source frames i and i + 1.
        params: thresholds and sizes (:class:`Protection`).

    Returns:
        (static, overlay, keep): float32 (H, W) in [0, 1]. ``static``: pixels where the
        inputs agree (3x3-opened; near an overlay, also those that nearly agree inside a
        large static region), candidates for the linear blend. ``overlay``: what is
        painted out before the network: static text and logos surrounded by motion (times
        ``keep`` to the 4th), and
        ``keep`` at ``painted`` or more times 1 - ``static``. ``keep``: where the blend goes
        in whatever the network says: the text and logos, and the pixels within ``near``
        of them whose inputs differ by less than ``nearly`` or are shaded (see
        :class:`Protection`). Both are all zero where nothing looks like an overlay.

    Computed in strips of :data:`STRIP_ROWS` rows, each with enough rows of context above
    and below (the reach of the whole chain of filters), so every pixel sees the
    neighbourhood it has in one pass over the frame (the box filter's running sums start at
    another row: float rounding at most).
    """
    return masks_and_motion(img0, img1, params)[:3]


class Masks(NamedTuple):
    """:func:`masks_and_motion` of a pair: float32 (H, W) masks as :func:`static_masks` says;
    ``shifts``: the pair's dominant motions that the overlay test tried (whole-pixel (dy, dx),
    I1(x + v) = I0(x); empty where nothing looks like an overlay), for
    :mod:`vsvfi.overlay_motion`; ``layer_keep``: ``keep`` without the seeds found where one
    motion carries the pair (:func:`_gated_seeds`: through a codec's noise, or by their
    static structure; the outline's edge, :func:`vsvfi.encoded.outline_edge`, stays), for
    the layer search of :mod:`vsvfi.translucent` (a semi-transparent logo passes those tests
    too, and the search leaves what the protection keeps alone); ``groups``:
    :func:`motion_shifts` of the pair."""

    static: np.ndarray
    overlay: np.ndarray
    keep: np.ndarray
    shifts: list
    layer_keep: np.ndarray
    groups: list


def masks_and_motion(img0: np.ndarray, img1: np.ndarray, params: Protection = DEFAULT, codec: bool = True,
                     highpass: HighPass | None = None) -> Masks:
    """The :class:`Masks` of a pair (:func:`static_masks`' arguments). ``codec=False``: without
    the seeds through a codec's noise (the filter's second pass, on backgrounds a layer was
    taken out of; the see-through seeds stay). ``highpass``: the pair's :class:`HighPass`."""
    h = img0.shape[1]
    static, seed, exact, spread = (np.empty(img0.shape[1:], np.float32) for _ in range(4))
    reach = seeds_reach(params)
    for y0 in range(0, h, STRIP_ROWS):
        y1 = min(h, y0 + STRIP_ROWS)
        a0, a1 = max(0, y0 - reach), min(h, y1 + reach)
        parts = _static_masks(img0[:, a0:a1], img1[:, a0:a1], params)
        for whole, part in zip((static, seed, exact, spread), parts):
            whole[y0:y1] = part[y0 - a0:y1 - a0]
    return _masks_from(img0, img1, static, seed, exact, spread, params, codec, highpass)


def _masks_from(img0: np.ndarray, img1: np.ndarray, static: np.ndarray, seed: np.ndarray, exact: np.ndarray,
                spread: np.ndarray, params: Protection, codec: bool = True,
                highpass: HighPass | None = None) -> Masks:
    """:func:`masks_and_motion` from the whole frame's pieces (:func:`_static_masks`)."""
    groups = motion_shifts(img0, img1)
    extra, loose, see = _gated_seeds(img0, img1, seed, exact, spread, groups, params, codec, highpass)
    if extra is None:
        out = _overlay_masks(img0, img1, static, seed, exact, params, groups, loose)
        return Masks(*out, out[2], groups)
    plain = _overlay_masks(img0, img1, static.copy(), seed, exact, params, groups, loose)
    if see is not None:  # the see-through seeds grow into their own pixels too
        if loose is None:  # what _overlay_masks grows into without it
            loose = np.maximum(exact, codec_static(img0, img1, np.abs(img0 - img1).max(axis=0), params, spread))
        loose = np.maximum(loose, see)
    return Masks(*_overlay_masks(img0, img1, static, np.maximum(seed, extra), exact, params, groups, loose),
                 plain[2], groups)


def _gated_seeds(img0: np.ndarray, img1: np.ndarray, seed: np.ndarray, exact: np.ndarray, spread: np.ndarray,
                 groups: list[list[tuple[int, int]]], p: Protection, codec: bool = True,
                 highpass: HighPass | None = None) -> tuple:
    """(seeds, loose, see): overlay seeds (float32 (H, W), 0 or above 0.5) found as :func:`_seeds`
    finds them with the pixels static under a codec's noise (:func:`vsvfi.encoded.codec_static`)
    counted as exactly static, where one shift carries most of the pair's motion (between
    :data:`vsvfi.encoded.DOMINANT`), or else one zoom (:func:`vsvfi.encoded.zoom_gate`, codec
    edges within ``ZOOM_RELATIVE``), and ``loose``, those static pixels with ``exact`` (None
    where neither carries the pair); where the shift does, also seeds on the pixels whose
    structure is static, ``see`` (:func:`vsvfi.see_through.structure_static`, at least
    ``see_through.REACH`` px from exactly static ones, with ``see_through.CONTRAST``; None
    without such seeds). Seeds None where none is new. ``codec=False``: none through the
    codec, no zoom, ``loose`` None. ``highpass``: the pair's, as :func:`masks_and_motion` says."""
    moving = moving_pixels(img0, img1, spread)
    shifted = float(smoothstep(np.float32(dominant_share(img0, img1, groups, spread, moving)), *DOMINANT))
    zoomed = zoom_gate(img0, img1, spread, moving) if shifted < 1 and codec else 0.0
    carried, q = (zoomed, replace(p, relative=ZOOM_RELATIVE)) if zoomed > shifted else (shifted, p)
    if carried <= 0:  # a zoom above: only edges that barely differ (encoded.ZOOM_RELATIVE)
        return None, None, None
    new, loose = np.zeros_like(seed), None
    if codec:
        loose = np.maximum(exact, codec_static(img0, img1, np.abs(img0 - img1).max(axis=0), q, spread))
        new = _seeds(img0, img1, loose, spread, q) * np.float32(carried) * (seed <= 0.5)
    see = structure_static(img0, img1, highpass=highpass) if shifted > 0 else None  # not a zoom's: near its centre all barely moves
    seen = None
    if see is not None and see.any():
        see *= 1 - _dilate((exact > 0.5).astype(np.float32), see_through.REACH)
        # the lower contrast for these pixels alone: exact ones beside a moving object would pass it
        static, q = np.maximum(exact, see), replace(p, contrast=see_through.CONTRAST)
        seen = on_tiles(lambda s: _seeds(img0[(slice(None), *s)], img1[(slice(None), *s)], static[s], spread[s], q),
                        see, seeds_reach(p))  # where see is: a few % of a frame
        seen = see_through.parts(seen * see * np.float32(shifted) * (seed <= 0.5))
        new = np.maximum(new, seen)
    see = see if seen is not None and (seen > 0.5).any() else None
    new[new <= 0.5] = 0  # fractions of a seed would paint fractions of the pixels
    return (new if new.any() else None), loose, see


def _overlay_masks(img0: np.ndarray, img1: np.ndarray, static: np.ndarray, seed: np.ndarray, exact: np.ndarray,
                   params: Protection, groups: list | None = None, loose: np.ndarray | None = None):
    """(static, overlay, keep, shifts) of :func:`masks_and_motion` from the whole frame's
    ``static``, overlay ``seed`` and ``exact``-ly static pixels (:func:`_static_masks`); the
    pair's :func:`motion_shifts` ``groups`` and ``exact`` with the pixels static under a
    codec's noise (``loose``) when known."""
    if not (seed > 0).any():
        return static, seed, seed, []
    d = np.abs(img0 - img1).max(axis=0)
    exact = np.maximum(exact, codec_static(img0, img1, d, params)) if loose is None else loose
    # everything below reaches at most r pixels from a seed: work on that box only
    box = around(seed > 0, params.grow + params.rim + 2 * params.near)
    zone = np.zeros_like(seed)
    zone[box] = _dilate(seed[box], params.grow + params.rim + params.near)
    shifts = _refined(img0, img1, seed, motion_shifts(img0, img1) if groups is None else groups)
    unexplained = _unexplained(img0, img1, zone, exact, shifts, params)[box]
    unexplained = _by_parts(seed[box], unexplained)
    # grow only into small static regions: the inside of a letter, not the static
    # background around a moving object (the network needs to see that as it is)
    parts, _ = ndimage.label(exact > 0.5, structure=np.ones((3, 3), bool))
    area = np.bincount(parts.ravel())
    area[0] = 0
    small = area[parts[box]] <= params.grow_area * exact.size
    room = exact[box] * unexplained * small
    grown = _grown(seed[box] * unexplained, room, params)
    d = d[box]
    overlay, keep = np.zeros_like(seed), np.zeros_like(seed)
    near = _dilate(grown, params.near)
    darker = darkened(img0, img1, box, (near > 0) & (grown < 1), shifts, params.shade, params.shade_fit)
    nearly = near * smoothstep(d, params.nearly[1], params.nearly[0])
    keep[box] = np.maximum(grown, np.maximum(nearly * small, near * darker))
    if loose is not None:  # the codec test is trusted here: an outline's noisy outer edge
        keep[box] = np.maximum(keep[box], outline_edge(img0, img1, box, d, grown, params))
    # inside a large static region (a pattern moved by whole periods looks static) the
    # network's say counts: there they are static pixels (combine), not kept ones
    static[box] = np.maximum(static[box], nearly * ~small)
    # a drop shadow or a soft edge seen by the network gets dragged along like the text (a
    # ghost beside it); fully kept pixels only: the blend then hides the painting entirely
    # painted by keep to the 4th: a fraction kept leaves that much of the fill in the output
    # (fractional seeds on real footage that barely moves; docs/protection.md, "Real footage")
    overlay[box] = np.maximum(grown * keep[box] ** 4, (keep[box] >= params.painted) * (1 - static[box]))
    return static, overlay, keep, shifts


def _by_parts(seed: np.ndarray, unexplained: np.ndarray) -> np.ndarray:
    """``unexplained`` with every connected part of the ``seed`` (8-connected after a 2 px
    dilation: a letter and its outline) whose seed pixels are mostly unexplained made
    wholly so: a pattern moved by whole periods is explained all over but for its border,
    while a letter is explained at most where it looks like its neighbour (the left of a
    G is the left of an O)."""
    parts, count = ndimage.label(ndimage.binary_dilation(seed > 0.5, iterations=2), structure=np.ones((3, 3), bool))
    if not count:
        return unexplained
    share = ndimage.mean(unexplained, np.where(seed > 0.5, parts, 0), index=np.arange(1, count + 1))
    whole = np.concatenate([[False], share > 0.5])[parts]
    return np.where(whole, np.float32(1), unexplained)


#: Distinct phase-correlation peaks (:func:`vsvfi.motion.phase_peaks`) tried as the motions
#: that may explain static-looking pixels, and the width (pixels) of the luma they are
#: measured on.
MOTION_PEAKS = 6
PEAK_WIDTH = 640
#: Peaks closer than this (pixels of the measured luma) to no motion or to a stronger peak
#: are its side lobes; shorter shifts would explain smooth content by itself.
MIN_SHIFT = 4


def motion_shifts(img0: np.ndarray, img1: np.ndarray) -> list[list[tuple[int, int]]]:
    """Whole-pixel shifts (dy, dx) that may carry content of ``img0`` to ``img1`` (float
    (3, H, W)): the :data:`MOTION_PEAKS` strongest distinct phase-correlation peaks of their
    mean over the channels, block-averaged to at most about :data:`PEAK_WIDTH` pixels wide,
    either sign; one list per peak and sign: the peak at full size and its whole-pixel
    neighbours within the block size (:func:`_refined` picks one)."""
    f = max(1, img0.shape[2] // PEAK_WIDTH)
    h, w = img0.shape[1] // f * f, img0.shape[2] // f * f
    small = [x[:, :h, :w].mean(axis=0, dtype=np.float32).reshape(h // f, f, w // f, f).mean(axis=(1, 3))
             for x in (img0, img1)]
    kept = [(0, 0)]
    for dy, dx in phase_peaks(*small, 4 * MOTION_PEAKS):
        if len(kept) <= MOTION_PEAKS and all(max(abs(dy - y), abs(dx - x)) >= MIN_SHIFT for y, x in kept):
            kept.append((dy, dx))
    near = range(-(f // 2), f // 2 + 1)
    return [[(s * (dy * f + ey), s * (dx * f + ex)) for ey in near for ex in near] for dy, dx in kept[1:]
            for s in (1, -1)]


def _refined(img0: np.ndarray, img1: np.ndarray, where: np.ndarray,
             groups: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """One shift per group of :func:`motion_shifts`: the one under which ``img1`` matches
    ``img0`` best (mean largest channel difference) on every 2nd row and column of the
    pixels of ``where`` (H, W) that it keeps inside the frame."""
    ys, xs = np.nonzero(where[::2, ::2] > 0)
    ys, xs = ys * 2, xs * 2
    h, w = where.shape
    out = []
    for group in groups:
        best, pick = np.inf, group[len(group) // 2]
        for dy, dx in group if len(group) > 1 else ():
            ok = (ys + dy >= 0) & (ys + dy < h) & (xs + dx >= 0) & (xs + dx < w)
            if ok.any():
                y, x = ys[ok], xs[ok]
                err = float(np.abs(img0[:, y, x] - img1[:, y + dy, x + dx]).max(axis=0).mean())
                if err < best:
                    best, pick = err, (dy, dx)
        out.append(pick)
    return sorted(set(out))


#: Pixels a short step (this many pixels along a shift) must change a patch by for the shift
#: to explain it.
STEP = 3
#: A shift explains static pixels only where it also carries this fraction (a smoothstep) of
#: the moving pixels within :data:`SUPPORT` pixels to their place in the next frame: a real
#: motion, not the likeness of a text to itself one letter further.
CARRIED = (0.1, 0.25)
SUPPORT = 12
#: Range over the 3x3 square (a smoothstep) that makes a moving pixel textured enough to
#: say where it went.
TEXTURE = (0.05, 0.1)


def _unexplained(img0: np.ndarray, img1: np.ndarray, zone: np.ndarray, exact: np.ndarray,
                 shifts: list[tuple[int, int]], p: Protection) -> np.ndarray:
    """float32 (H, W): 0 where one of ``shifts`` v explains a textured pixel x of ``zone``,
    1 elsewhere. Explained: I1 at x + v within ``p.explained`` of I0 at x on every pixel
    of the 5x5 patch; the ``exact``-ly static pixels of the patch changing (mean beyond
    ``p.explained``) when I0 moves :data:`STEP` pixels towards v (a static edge along v,
    such as the bar of a letter, matches itself under any shift along it); and the range
    of I0 over the 9x9 square around x reaching ``p.contrast`` (flat pixels match any short
    shift). Computed strip by strip, on the runs of columns that hold ``zone`` pixels."""
    out = np.ones(zone.shape, np.float32)
    if not shifts:
        return out
    h = zone.shape[0]
    for y0 in range(0, h, STRIP_ROWS):
        y1 = min(h, y0 + STRIP_ROWS)
        cols = np.nonzero((zone[y0:y1] > 0).any(axis=0))[0]
        if not cols.size:
            continue
        x0, x1 = cols[0], cols[-1] + 1
        # runs of zone columns (RUN_GAP, RUN_MARGIN): zone pixels see what one span shows
        gaps = np.nonzero(np.diff(cols) > RUN_GAP)[0]
        for s, e in zip(np.r_[cols[0], cols[gaps + 1]], np.r_[cols[gaps] + 1, x1]):
            c0, c1 = max(x0, s - RUN_MARGIN), min(x1, e + RUN_MARGIN)
            out[y0:y1, s:e] = _unexplained_span(img0, img1, exact, shifts, p, y0, y1, c0, c1)[:, s - c0:e - c0]
    return out


#: :func:`_unexplained` works on runs of zone columns (scattered seeds need not cost the
#: whole width), merged when closer than RUN_GAP (a run costs ~150 small calls under the
#: GIL), each with RUN_MARGIN more columns (the 9x9 contrast window reaches 4).
RUN_MARGIN = 8
RUN_GAP = 2 * (RUN_MARGIN + SUPPORT) + 128


def _unexplained_span(img0: np.ndarray, img1: np.ndarray, exact: np.ndarray, shifts: list[tuple[int, int]],
                      p: Protection, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """:func:`_unexplained` on rows y0..y1, columns x0..x1 (windows: SUPPORT more pixels)."""
    m, g = 2, max(2, SUPPORT)  # the patch radius, the windows' margin
    a = _window(img0, y0 - g, y1 + g, x0 - g, x1 + g)
    still = np.clip(_window(exact[None], y0 - g, y1 + g, x0 - g, x1 + g)[0], 0, 1)
    # textured moving pixels: flat ones would follow any shift
    moving = (1 - still) * smoothstep(_range3(a), *TEXTURE)
    inner = (slice(g, -g), slice(g, -g))
    near = (slice(g - m, m - g or None), slice(g - m, m - g or None))  # the patch's margin
    around = np.maximum(_box(moving, SUPPORT), 1e-3)
    best = np.zeros((y1 - y0, x1 - x0), np.float32)
    along = {}
    for dy, dx in shifts:
        diff = np.abs(a - _window(img1, y0 - g + dy, y1 + g + dy, x0 - g + dx, x1 + g + dx)).max(axis=0)
        match = ndimage.maximum_filter(diff[near], size=2 * m + 1, mode="nearest")[m:-m, m:-m]
        # a motion, not a pattern's likeness to itself: it carries the moving pixels around too
        carried = _box(moving * (diff <= p.explained[0]), SUPPORT) / around
        # structure along v: an edge that runs along the motion matches itself anywhere
        u = tuple(round(STEP * c / max(abs(dy), abs(dx))) for c in (dy, dx))
        if u not in along:
            step = np.abs(a - _window(img0, y0 - g + u[0], y1 + g + u[0], x0 - g + u[1], x1 + g + u[1])).max(axis=0)
            along[u] = smoothstep((_box(step * still, m) / np.maximum(_box(still, m), 1e-3))[inner],
                                  *p.explained)
        best = np.maximum(best, smoothstep(match, p.explained[1], p.explained[0]) * along[u]
                          * smoothstep(carried[inner], *CARRIED))
    piece = a[(slice(None), *inner)]
    spread = (ndimage.maximum_filter(piece, size=(1, 9, 9), mode="nearest")
              - ndimage.minimum_filter(piece, size=(1, 9, 9), mode="nearest")).max(axis=0)
    return 1 - best * smoothstep(spread, *p.contrast)


def _static_masks(img0: np.ndarray, img1: np.ndarray, p: Protection) -> tuple[np.ndarray, ...]:
    """(static, seeds, exact, spread: the 3x3 range of ``img0``) of one piece of the frame, in one pass."""
    d = np.abs(img0 - img1).max(axis=0)
    static = _opened(smoothstep(d, p.high, p.low))
    exact = smoothstep(d, p.exact[1], p.exact[0])
    spread = _range3(img0)
    return static, _seeds(img0, img1, exact, spread, p), exact, spread


#: Below this (0..1), the static edges across and along near a seed count as none
#: (docs/protection.md, "Fractional seeds").
EDGES_BOTH_WAYS = 0.5


def seeds_reach(p: Protection) -> int:
    """How far (pixels) :func:`_seeds` reads around a pixel: the motion around it and its
    static edges (:data:`REACH`, and a pixel more for the central differences)."""
    return max(p.radius + 2, REACH + 1)


def _seeds(img0: np.ndarray, img1: np.ndarray, exact: np.ndarray, spread: np.ndarray, p: Protection) -> np.ndarray:
    """Overlay seeds (float32 (H, W)) from the ``exact``-ly static pixels (:class:`Protection`)."""
    # thin strokes stay (the middle of a 1 px line has 3 of 9, of a 2 px one 6 of 9);
    # isolated pixels that agree by chance (1 or 2 of 9) do not
    still = exact * smoothstep(_box(exact, 1), *p.still)
    moving = _box(1 - still, p.radius)
    edges = _extreme3(_extreme3(spread, np.maximum), np.maximum)
    overlay = still * smoothstep(moving, *p.moving) * smoothstep(edges, *p.contrast)
    if not overlay.any():  # most strips of real footage: the edge test below would multiply zeros
        return overlay
    box = around(overlay, REACH)  # what the edge test below reads
    (gx0, gy0), (gx1, gy1) = _gradients(img0, box), _gradients(img1, box)
    across, along = (exact[box] * smoothstep(np.minimum(g0, g1), *p.contrast) for g0, g1 in ((gx0, gx1), (gy0, gy1)))
    both = np.minimum(_dilate(across, REACH), _dilate(along, REACH))
    # faint or scattered static edges (real footage: chance agreements beside a moving face)
    # would make fractional seeds that still paint and blend a fraction of their surroundings
    both[both <= EDGES_BOTH_WAYS] = 0
    overlay[box] *= both
    return overlay


def _grown(seed: np.ndarray, exact: np.ndarray, p: Protection) -> np.ndarray:
    """``seed`` (overlay pixels, float32 (H, W)) grown ``p.grow`` pixels (8-connected) into
    the ``exact``-ly static pixels, then by ``p.rim`` pixels."""
    if p.grow and (seed > 0.5).any():
        grown = ndimage.binary_dilation(seed > 0.5, iterations=p.grow, mask=exact > 0.5,
                                        structure=np.ones((3, 3), bool))
        seed = np.maximum(seed, grown * exact)
    return _dilate(seed, p.rim) if p.rim else seed

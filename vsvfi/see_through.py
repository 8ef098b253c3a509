"""Semi-transparent static overlays over motion the layer model of :mod:`vsvfi.translucent`
cannot take (a watermark or a logo at alpha 0.3-0.6 over a pan by a fraction of a pixel, a
zoom): found by their structure, for the seeds of :mod:`vsvfi.protect`.

Inside such an overlay I = P + k B: its colour times its alpha P stays put, the background
B seen through k = 1 - alpha moves. No pixel agrees between the two frames, so the exact
test of the protection finds nothing, and the network drags the overlay's letters along
with the background (11.5 dB below a plain blend on a held-out watermark, docs/protection.md,
"See-through overlays"). But the high-pass of the frame, I minus its local mean, is P's
high-pass plus k times B's; where B is soft against P's sharp edges it changes little
between the frames while the pixel values do. :func:`structure_static` is that test; the
protection counts such pixels as static for its seeds and their growth where one motion
carries the pair (the gate of :mod:`vsvfi.encoded`), with a lower edge contrast than for
opaque text (:data:`CONTRAST`). The blend (or :func:`vsvfi.overlay_motion.unmix`) then
goes in there, and the network sees the overlay painted out.

Where no one motion carries the pair (a talking head, a pan with parallax) those seeds stay
off: a fade or a flash over a still frame leaves every edge's structure in place too, and
the blend painted there cost up to 26 dB. What stays true there is that the middle frame
keeps the structure both source frames share. :func:`structure_parts` finds that structure
(the picture's own repetitions left out: a pattern moved by whole periods, an edge sliding
along itself), and :func:`keep_structure` puts the blend in, after the network, only where
the network's frame lost it (docs/protection.md, "See-through overlays the network drags").

Frames are float32 (3, H, W) RGB in [0, 1]; differences are the largest over the channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scipy import ndimage

from .neighbourhood import box, dilate, smoothstep

#: The high-pass is the frame minus its mean over the (2 RADIUS + 1)² square: the width of
#: a letter's stroke at the sizes the overlay families hold (3-6 px), so a stroke's inside
#: differs from its mean too.
RADIUS = 2
#: The high-pass of the two frames agrees where their difference is at most this share of
#: its size (the smaller of the two frames', a smoothstep from the second value down to the
#: first): the background seen through the overlay still moves a little.
AGREE = (0.2, 0.4)
#: ... and its size is at least this (0..1, a smoothstep): flat pixels agree under any motion.
STRENGTH = (0.04, 0.08)
#: Pixels (px) around the pixels static under a codec's noise or exactly (opaque text) where
#: this test counts for nothing: beside a static edge the local mean is mostly the edge's,
#: and the moving background there passed for static structure (the opaque subtitles of the
#: overlay family lost 2-8 dB inside their boxes without it).
REACH = 3
#: The 3x3 range and steps across and along near a seed (the protection's ``contrast``) for
#: these seeds: a white watermark at alpha 0.45 over a mid-grey background steps by about 0.25.
CONTRAST = (0.08, 0.16)
#: Fewest seed pixels (above 0.5) in an 8-connected part of these seeds.
PART = 8
#: A part of static structure is the picture's own repetition, not an overlay, where one of
#: the pair's shifts (:func:`vsvfi.protect.motion_shifts`) carries this share of its pixels
#: (a smoothstep; high-pass within :data:`AGREE`): a pattern moved by whole periods, an edge
#: along the motion. Letters repeat too (strokes 4 px apart carried 20-45 % of a watermark's).
REPEATS = (0.6, 0.8)
#: The network's frame lost a part's structure where its high-pass differs from the
#: source frames' (blended at the timestep) by this share of their size (a smoothstep).
LOST = (0.4, 0.8)
#: Pixels (px) around such a pixel that get the blend too: the network drags the letters a
#: few pixels along with the background, and leaves a trace of them there.
GROW = 3
#: Fewest pixels in a part of that structure: a zoom slides edges pointing at its centre
#: along themselves, in chance parts of 7-13 pixels at 640 px wide (the zoom family lost up
#: to 2.9 dB to them); a see-through letter's strokes make parts of 146-719.
CHECKED_PART = 32


def parts(seeds: np.ndarray, least: int = PART) -> np.ndarray:
    """``seeds`` (float32 (H, W)) without the 8-connected parts of their pixels above 0.5
    that hold fewer than ``least`` of them: chance agreements in a texture sliding along
    itself make parts of 1-3 pixels, the strokes of a see-through letter larger ones."""
    return _labelled_parts(seeds, least)[0]


def _labelled_parts(seeds: np.ndarray, least: int) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`parts`, and the labels (int (H, W)) of the parts kept (0 elsewhere; None where
    ``seeds`` has no pixel above 0.5)."""
    found = seeds > 0.5
    if not found.any():
        return seeds, None
    labels, _ = ndimage.label(found, structure=np.ones((3, 3), bool))
    size = np.bincount(labels.ravel())
    size[0] = 0
    labels[size[labels] < least] = 0
    return np.where(labels > 0, seeds, np.float32(0)), labels


class HighPass:
    """The high-pass of a pair of frames (float32 (3, H, W) each, the frame minus its mean
    over the (2 :data:`RADIUS` + 1)² square), made when first asked for and kept: the
    protection's see-through seeds and :func:`structure_parts` read the same pair."""

    def __init__(self, img0: np.ndarray, img1: np.ndarray):
        self._frames: tuple | None = (img0, img1)
        self._pair: tuple[np.ndarray, np.ndarray] | None = None

    def pair(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pair is None:
            self._pair = (_highpass(self._frames[0]), _highpass(self._frames[1]))
            self._frames = None
        return self._pair


def structure_static(img0: np.ndarray, img1: np.ndarray, highpass: HighPass | None = None) -> np.ndarray:
    """float32 (H, W) in [0, 1]: pixels whose high-pass (the frame minus its mean over
    the (2 :data:`RADIUS` + 1)² square) is at least :data:`STRENGTH` in both frames and
    agrees between them within :data:`AGREE` of that size. ``img0``, ``img1``: float32
    (3, H, W) in [0, 1]; ``highpass``: their :class:`HighPass`, where one was made."""
    return _static(*(highpass or HighPass(img0, img1)).pair())


def _static(h0: np.ndarray, h1: np.ndarray) -> np.ndarray:
    """:func:`structure_static` from the two frames' high-pass."""
    size = np.minimum(np.abs(h0).max(axis=0), np.abs(h1).max(axis=0))
    out = np.zeros_like(size)
    ys, xs = np.nonzero(size > STRENGTH[0])  # the rest is 0: a few % of a frame are left
    size = size[ys, xs]
    agree = np.abs(h0[:, ys, xs] - h1[:, ys, xs]).max(axis=0) / np.maximum(size, 1e-3)
    out[ys, xs] = smoothstep(agree, AGREE[1], AGREE[0]) * smoothstep(size, *STRENGTH)
    return out


def _highpass(img: np.ndarray) -> np.ndarray:
    return img - box(img, RADIUS)


@dataclass(frozen=True)
class Structure:
    """What :func:`structure_parts` found in a pair, for :func:`keep_structure` at every
    timestep: ``parts`` float32 (H, W) in [0, 1]; ``window`` (rows, columns) slices, the
    parts' bounding box and :data:`GROW` + :data:`RADIUS` px around (inside the frame);
    ``h0``, ``h1`` float32 (3, h, w), the source frames' high-pass over the window (of the
    window's pixels alone: its edges repeated), and ``size`` float32 (h, w), the smaller of
    the two's largest over the channels."""

    parts: np.ndarray
    window: tuple[slice, slice]
    h0: np.ndarray
    h1: np.ndarray
    size: np.ndarray


def structure_parts(img0: np.ndarray, img1: np.ndarray, shifts, kept: np.ndarray | None = None,
                    static: np.ndarray | None = None, highpass: HighPass | None = None) -> Structure | None:
    """The :func:`parts` (of :data:`CHECKED_PART` pixels and more) of
    :func:`structure_static` that no shift
    (dy, dx) of ``shifts`` (iterable of groups of whole-pixel shifts, I1(x + v) = I0(x), as
    :func:`vsvfi.protect.motion_shifts` gives them) carries on more than :data:`REPEATS` of
    their pixels (a pixel the shift takes out of the frame counts as carried: what entered
    the frame at its edge may have been the same), none within :data:`RADIUS` + :data:`GROW`
    px of the pixels ``kept``
    (float32 (H, W), at 0.5 and up: what the protection puts the blend on anyway; their
    border's high-pass mixes the blend with the moving background around), and none of the
    ``static`` ones (float32 (H, W), at 0.5 and up: there the network may overrule the
    blend, as over a still background an object crosses), as a :class:`Structure`; None
    where there is none. ``img0``, ``img1``: float32 (3, H, W) in [0, 1]; ``highpass``: their
    :class:`HighPass`, where one was made."""
    h0, h1 = (highpass or HighPass(img0, img1)).pair()
    found = _static(h0, h1)
    if kept is not None and (kept >= 0.5).any():
        found *= 1 - dilate((kept >= 0.5).astype(np.float32), RADIUS + GROW)
    if static is not None:
        found *= static < 0.5
    found, labels = _labelled_parts(found, CHECKED_PART)
    if labels is None or not labels.any():
        return None
    h, w = labels.shape
    ys, xs = np.nonzero(labels)
    lab = labels[ys, xs]
    n = int(lab.max())
    h0 = h0[:, ys, xs]
    size = np.minimum(np.abs(h0).max(axis=0), np.abs(h1[:, ys, xs]).max(axis=0))
    count = np.maximum(np.bincount(lab, minlength=n + 1), 1).astype(np.float64)  # labels of dropped parts: none
    carried = np.zeros(n + 1)
    for dy, dx in {v for group in shifts for v in group}:
        y, x = ys + dy, xs + dx
        moved = h1[:, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]
        agree = smoothstep(np.abs(h0 - moved).max(axis=0) / np.maximum(size, 1e-3), AGREE[1], AGREE[0])
        agree[(y < 0) | (y >= h) | (x < 0) | (x >= w)] = 1  # carried out of the frame: no telling
        carried = np.maximum(carried, np.bincount(lab, weights=agree, minlength=n + 1) / count)
    keep = (1 - smoothstep(carried, *REPEATS)).astype(np.float32)
    keep[0] = 0
    found *= keep[labels]
    where = np.nonzero(found > 0.5)
    if not where[0].size:
        return None
    r = GROW + RADIUS
    window = tuple(slice(max(0, int(c.min()) - r), int(c.max()) + r + 1) for c in where)
    # the window's own high-pass, not the frame's: keep_structure compares the network's
    # frame over the same window with it
    w0, w1 = (_highpass(x[(slice(None), *window)]) for x in (img0, img1))
    return Structure(found, window, w0, w1, np.minimum(np.abs(w0).max(axis=0), np.abs(w1).max(axis=0)))


def keep_structure(frame: np.ndarray, img0: np.ndarray, img1: np.ndarray, t: float,
                   found: Structure) -> np.ndarray:
    """The network's ``frame`` (float32 or float16 (3, H, W) in [0, 1], at timestep ``t`` in
    (0, 1)) with the linear blend of ``img0`` and ``img1`` (as ``frame``; the frames
    :func:`structure_parts` read) put in where it lost the high-pass of the parts ``found``
    by :data:`LOST`, and :data:`GROW` px around."""
    s = (slice(None), *found.window)
    a, b, out = (x[s].astype(np.float32, copy=False) for x in (img0, img1, frame))  # RGBH: float16
    blend = a * np.float32(1 - t) + b * np.float32(t)
    lost = np.abs(_highpass(out) - (found.h0 * np.float32(1 - t) + found.h1 * np.float32(t))).max(axis=0)
    weight = found.parts[found.window] * smoothstep(lost / np.maximum(found.size, 1e-3), *LOST)
    weight = ndimage.maximum_filter(weight, 2 * GROW + 1)
    if not weight.any():
        return frame
    frame = frame.copy()
    frame[s] = out + (blend - out) * weight
    return frame

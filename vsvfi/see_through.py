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

Frames are float32 (3, H, W) RGB in [0, 1]; differences are the largest over the channels.
"""

from __future__ import annotations

import numpy as np

from scipy import ndimage

from .neighbourhood import box, smoothstep

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


def parts(seeds: np.ndarray) -> np.ndarray:
    """``seeds`` (float32 (H, W)) without the 8-connected parts of their pixels above 0.5
    that hold fewer than :data:`PART` of them: chance agreements in a texture sliding along
    itself make parts of 1-3 pixels, the strokes of a see-through letter larger ones."""
    found = seeds > 0.5
    if not found.any():
        return seeds
    labels, _ = ndimage.label(found, structure=np.ones((3, 3), bool))
    size = np.bincount(labels.ravel())
    size[0] = 0
    return np.where(size[labels] >= PART, seeds, np.float32(0))


def structure_static(img0: np.ndarray, img1: np.ndarray) -> np.ndarray:
    """float32 (H, W) in [0, 1]: pixels whose high-pass (the frame minus its mean over
    the (2 :data:`RADIUS` + 1)² square) is at least :data:`STRENGTH` in both frames and
    agrees between them within :data:`AGREE` of that size. ``img0``, ``img1``: float32
    (3, H, W) in [0, 1]."""
    h0, h1 = img0 - box(img0, RADIUS), img1 - box(img1, RADIUS)
    size = np.minimum(np.abs(h0).max(axis=0), np.abs(h1).max(axis=0))
    agree = np.abs(h0 - h1).max(axis=0) / np.maximum(size, 1e-3)
    return smoothstep(agree, AGREE[1], AGREE[0]) * smoothstep(size, *STRENGTH)

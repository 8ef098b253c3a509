"""``scale="auto"`` on large motion: run the network at several flow scales and weigh their
frames by how well each scale's flow explains both source frames.

No single flow scale is best for all large motion: on the large-motion and pan families
(docs/hard-scenes.md) scale 0.5 or 0.25 wins by several dB on some cases and loses as much
on others of the same measured motion, so a rule on the motion alone misses the best scale
on about one case in five. The network can tell: where its flow is right, the two inputs
warped to the output time agree, except where one of them is occluded, which the fusion mask
says. A graph with the ``disagreement`` output (rife46) reports, per 8x8 block, the mean of
4 m (1 - m) |warp0 - warp1| (m the fusion mask); its mean over the frame is the scale's
misfit. The frames of the scales in :data:`FUSED_SCALES` are averaged with weights
proportional to ``(misfit + MISFIT_FLOOR) ** -MISFIT_POWER``: nearly the best scale's frame
when one scale fits clearly better, a mean of the close ones otherwise. Chosen on the
large-motion, pan, shake and object families (docs/auto-scale.md, "Weighing the scales").

Each scale runs on the pair padded for itself (:func:`prepare`), so scale 1's frame is the
one ``scale=1`` makes.

Cost: the network runs once per scale, on pairs that moved more than :data:`FUSE_ABOVE`
pixels only (and without scale 1 above :data:`COARSE_ABOVE`). The coarser scales are not
proportionally cheaper (every level still warps the full-size frames): about 2x one
scale-1 run on the CPU (docs/auto-scale.md, "Cost").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .scenes import auto_scale

#: Pairs whose measured motion (``VsvfiMotion``, pixels at the frame's size) exceeds this
#: are fused over :data:`FUSED_SCALES`; the others run at scale 1 alone.
FUSE_ABOVE = 48.0
#: Flow scales fused on large motion; the pair is padded once, for the smallest.
FUSED_SCALES = (1.0, 0.5, 0.25)
#: Above this motion (pixels) scale 1 is left out of the fusion: its flow misses there and
#: its weight is near 0 (the large-motion and pan families change by at most 0.27 dB on one
#: case without it; docs/auto-scale.md; the 240 px diagonal pan at 640x360, interpolated
#: since 2026-11-29, gains 1.67 dB without it), and it is the costliest run.
COARSE_ABOVE = 200.0
#: Exponent and floor (misfit units: RGB 0..1) of the weights: the power makes a clearly
#: better scale take nearly all the weight; the floor keeps near-perfect fits from
#: dividing by almost nothing.
MISFIT_POWER = 4
MISFIT_FLOOR = 1e-3


def weights(misfits: Sequence[float], power: float = MISFIT_POWER, floor: float = MISFIT_FLOOR) -> np.ndarray:
    """The fusion weights (float64, summing to 1) of frames whose flows have ``misfits``
    (each >= 0, RGB 0..1 units): proportional to ``(misfit + floor) ** -power``. Other
    ``floor`` values suit other measures of the flows (scripts/scale_signals.py)."""
    m = np.asarray(misfits, np.float64)
    if m.ndim != 1 or not len(m) or (m < 0).any() or not np.isfinite(m).all():
        raise ValueError(f"misfits must be finite numbers >= 0, got {misfits!r}")
    w = (m + floor) ** -power
    return w / w.sum()


def fuse(frames: Sequence[np.ndarray], misfits: Sequence[float], power: float = MISFIT_POWER,
         floor: float = MISFIT_FLOOR) -> np.ndarray:
    """The weighted mean (float32 (3, H, W)) of ``frames`` (same shape, any float dtype), one
    per flow scale, with :func:`weights` of their ``misfits``."""
    w = weights(misfits, power, floor)
    out = np.multiply(frames[0], w[0], dtype=np.float32)
    for frame, wk in zip(frames[1:], w[1:]):
        out += np.multiply(frame, wk, dtype=np.float32)
    return out


def prepare(engine, img0: np.ndarray, img1: np.ndarray, scales: Sequence[float]) -> tuple:
    """One prepared pair of ``engine`` per flow scale of ``scales``, each padded for its own
    scale (:meth:`RifeEngine.prepare`; frames as it takes them). Padding for the smallest
    scale would change the larger scales' flows (a 640x272 frame padded to 384 rows instead
    of 288 for scale 1): on the fused pair of bikes at k=4 the fusion gets 38.74 dB this way
    and 37.91 on one padding (docs/auto-scale.md). Host pairs padded by replicating the
    edge share one copy: a smaller padding is the top-left corner of a larger one."""
    big = engine.prepare(img0, img1, min(scales))
    if len(scales) == 1:
        return (big,)
    out = []
    for s in scales:
        m = engine.spec.pad_for(s)
        if s == big.scale:
            out.append(big)
        elif m == big.multiple:
            out.append(replace(big, scale=s))
        elif big.device is None and big.host is not None and big.mode == "edge" and big.multiple % m == 0:
            rows, cols = -(-big.height // m) * m, -(-big.width // m) * m
            out.append(replace(big, scale=s, multiple=m, host=tuple(x[..., :rows, :cols] for x in big.host)))
        else:
            out.append(engine.prepare(img0, img1, s))
    return tuple(out)


def runs(engine, pairs: Sequence, timestep: float, scales: Sequence[float], ensemble: bool = False) -> list:
    """(frame, misfit) of ``engine`` (a RIFE engine whose graph has the ``disagreement``
    output) at each of ``scales``, on ``pairs`` (one prepared pair per scale, each padded for
    its own scale: :func:`prepare`): frames in the graph's output type, misfits as
    :meth:`RifeEngine.synthesize` reports them. ``fuse(*zip(*runs(...)))`` is what
    ``scale="auto"`` makes of the pair."""
    if len(pairs) != len(scales):
        raise ValueError(f"one prepared pair per scale: {len(pairs)} pairs for scales {tuple(scales)}")
    return [engine.synthesize(p, timestep, ensemble, dtype=None, scale=s, misfit=True) for p, s in zip(pairs, scales)]


def auto_scales(motion: float, fusable: bool) -> tuple[float, ...]:
    """The flow scales ``scale="auto"`` runs for a pair whose content moved ``motion``
    pixels (``VsvfiMotion``): :data:`FUSED_SCALES` above :data:`FUSE_ABOVE` (without scale
    1 above :data:`COARSE_ABOVE`) for a model whose graph has the ``disagreement`` output
    (``fusable``), else the one scale :func:`vsvfi.scenes.auto_scale` picks from the motion."""
    if fusable and motion > COARSE_ABOVE:
        return tuple(s for s in FUSED_SCALES if s < 1)
    if fusable and motion > FUSE_ABOVE:
        return FUSED_SCALES
    return (auto_scale(motion),)

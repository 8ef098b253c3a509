"""Per-pair measurements the filter decides on, as lazy VapourSynth clips: scene changes and
motion (motion-compensated comparison of luma thumbnails, :mod:`vsvfi.motion`) and static
pairs (largest per-plane difference).

Frame i of each clip carries the measurement of source frames i and i + 1 (the last frame
is compared with itself).
"""

from __future__ import annotations

import numpy as np
import vapoursynth as vs

from .motion import compare_both

core = vs.core

#: Default scene-change threshold on :attr:`vsvfi.motion.Comparison.difference` (0..1: the
#: median over textured blocks of 1 - NCC after motion search). Chosen on families of cuts
#: and hard non-cuts built from the sample clips and on bikes.mp4 at half its frame rate
#: (docs/scene-change.md).
SC_THRESHOLD = 0.34
#: Width of the luma thumbnails the pair measurements are computed on (pixels).
SC_WIDTH = 160
#: Flow scale for ``scale="auto"`` with a model whose graph has no ``disagreement`` output
#: (rife46 fuses several scales above 48 px instead, :mod:`vsvfi.scale_fusion`): the first
#: (largest-motion bound, scale) whose bound the pair's motion (pixels at the frame's size)
#: does not exceed (docs/auto-scale.md).
AUTO_SCALES = ((48.0, 1.0), (200.0, 0.5), (float("inf"), 0.25))
#: Two source frames whose planes differ by at most this much anywhere (fraction of the
#: sample range: one code value at 8 bits) count as a static pair: their intermediate frames
#: are exact copies of the earlier frame and no network runs.
STATIC_TOLERANCE = 1 / 255


def _next(clip: vs.VideoNode) -> vs.VideoNode:
    return clip[1:] + clip[-1]


def thumbnails(clip: vs.VideoNode) -> vs.VideoNode:
    """Luma of every frame as GRAYS (0..1, full range) :data:`SC_WIDTH` pixels wide (RGB:
    BT.709 luma), resized with the cubic B-spline (zimg Bicubic b=1, c=0): a smooth kernel,
    so that texture finer than the thumbnail can hold fades out instead of aliasing into
    patterns that move differently from the picture."""
    sw = min(clip.width, SC_WIDTH)
    sh = max(2, round(clip.height * sw / clip.width))
    spline = {"filter_param_a": 1, "filter_param_b": 0}
    if clip.format.color_family == vs.RGB:
        return core.resize.Bicubic(clip, sw, sh, format=vs.GRAYS, matrix_s="709", range_s="full", **spline)
    luma = core.std.ShufflePlanes(clip, 0, vs.GRAY)
    return core.resize.Bicubic(luma, sw, sh, format=vs.GRAYS, range_in_s="full", range_s="full", **spline)


def pair_stats(clip: vs.VideoNode) -> vs.VideoNode:
    """Frame i carries the comparison of source frames i and i + 1
    (:func:`vsvfi.motion.compare_both` on :func:`thumbnails`): ``VsvfiSCDiff`` (0..1, the
    motion-compensated difference, the larger of both directions) and ``VsvfiMotion`` (how
    far things moved from i to i + 1, pixels at the clip's size). Requests thumbnails of
    frames i and i + 1 only."""
    small = thumbnails(clip)
    factor = clip.width / small.width

    def measure(n: int, f: list) -> vs.VideoFrame:
        c = compare_both(np.asarray(f[0][0]), np.asarray(f[1][0]))
        out = f[0].copy()
        out.props["VsvfiSCDiff"] = c.difference
        out.props["VsvfiMotion"] = c.motion * factor
        return out

    # VapourSynth runs one node's Python callback for one frame at a time: a single
    # ModifyFrame over the clip measured the pairs one after another whatever the thread
    # count (docs/gpu.md, "Third run"). A node per frame measures several pairs at once.
    later = _next(small)
    return core.std.FrameEval(small, lambda n: core.std.ModifyFrame(small[n], [small[n], later[n]], measure))


def is_cut(left, right, stats, threshold: float) -> bool:
    """Whether source frames i (props ``left``) and i + 1 (``right``) straddle a scene
    change: ``_SceneChangeNext`` on i, ``_SceneChangePrev`` on i + 1, or the
    :func:`pair_stats` props ``stats`` of frame i above ``threshold``."""
    return bool(left.get("_SceneChangeNext") or right.get("_SceneChangePrev") or stats["VsvfiSCDiff"] > threshold)


def auto_scale(motion: float) -> float:
    """The flow scale for a pair whose content moved ``motion`` pixels (``VsvfiMotion``):
    :data:`AUTO_SCALES`."""
    return next(scale for bound, scale in AUTO_SCALES if motion <= bound)


def static_stats(clip: vs.VideoNode) -> vs.VideoNode:
    """Frame i carries ``VsvfiStaticP{plane}Max``: max |clip[i] - clip[i+1]| of each plane,
    in the clip's sample units."""
    diff = core.std.Expr([clip, _next(clip)], "x y - abs")
    for p in range(clip.format.num_planes):
        diff = core.std.PlaneStats(diff, plane=p, prop=f"VsvfiStaticP{p}")
    return diff


def is_static(props, fmt: vs.VideoFormat) -> bool:
    """Whether the :func:`static_stats` props of frame i say that every plane of frames i
    and i + 1 agrees within :data:`STATIC_TOLERANCE` of the sample range."""
    top = 1.0 if fmt.sample_type == vs.FLOAT else (1 << fmt.bits_per_sample) - 1
    return all(props[f"VsvfiStaticP{p}Max"] <= STATIC_TOLERANCE * top + 1e-9 for p in range(fmt.num_planes))

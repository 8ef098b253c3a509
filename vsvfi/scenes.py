"""Per-pair measurements the filter decides on, as lazy VapourSynth clips: scene changes
(mean luma difference of thumbnails) and static pairs (largest per-plane difference).

Frame i of each clip carries the measurement of source frames i and i + 1 (the last frame
is compared with itself).
"""

from __future__ import annotations

import vapoursynth as vs

core = vs.core

#: Default scene-change threshold: mean absolute luma difference (0..1) of a downscaled
#: pair of neighbouring source frames. Tuned on bikes.mp4 (docs/scene-change.md).
SC_THRESHOLD = 0.12
#: Width of the luma thumbnails the scene-change measure is computed on (pixels).
SC_WIDTH = 320
#: Two source frames whose planes differ by at most this much anywhere (fraction of the
#: sample range: one code value at 8 bits) count as a static pair: their intermediate frames
#: are exact copies of the earlier frame and no network runs.
STATIC_TOLERANCE = 1 / 255


def _next(clip: vs.VideoNode) -> vs.VideoNode:
    return clip[1:] + clip[-1]


def scene_stats(clip: vs.VideoNode) -> vs.VideoNode:
    """Frame i carries ``VsvfiSCDiff``: mean |luma(i) - luma(i+1)| in [0, 1] on
    :data:`SC_WIDTH`-wide thumbnails (RGB: BT.709 luma)."""
    sw = min(clip.width, SC_WIDTH)
    sh = max(2, round(clip.height * sw / clip.width))
    if clip.format.color_family == vs.RGB:
        small = core.resize.Bilinear(clip, sw, sh, format=vs.GRAYS, matrix_s="709", range_s="full")
    else:
        luma = core.std.ShufflePlanes(clip, 0, vs.GRAY)
        small = core.resize.Bilinear(luma, sw, sh, format=vs.GRAYS, range_in_s="full", range_s="full")
    return core.std.PlaneStats(small, _next(small), prop="VsvfiSC")


def is_cut(left, right, stats, threshold: float) -> bool:
    """Whether source frames i (props ``left``) and i + 1 (``right``) straddle a scene
    change: ``_SceneChangeNext`` on i, ``_SceneChangePrev`` on i + 1, or the
    :func:`scene_stats` props ``stats`` of frame i above ``threshold``."""
    return bool(left.get("_SceneChangeNext") or right.get("_SceneChangePrev") or stats["VsvfiSCDiff"] > threshold)


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

"""Colour defaults: the one home of the rule that picks BT.709 or BT.601 for frames whose
props do not say, and of the zimg arguments built from frame props."""

from __future__ import annotations

import vapoursynth as vs


def default_matrix(width: int, height: int) -> int:
    """The matrix (zimg/ITU-T H.273 code) assumed for YUV without a usable ``_Matrix``:
    1 = BT.709 for frames at least 1280 wide or 720 high (HD), else 6 = BT.601 (170m)."""
    return 1 if width >= 1280 or height >= 720 else 6


def default_matrix_name(width: int, height: int) -> str:
    """:func:`default_matrix` as zimg's ``matrix_s`` name ("709" or "170m")."""
    return {1: "709", 6: "170m"}[default_matrix(width, height)]


def zimg_args(props, clip: vs.VideoNode) -> dict:
    """zimg arguments describing a non-RGB source frame: ``matrix``, ``range_s`` and, for
    YUV, ``chromaloc``; empty for RGB.

    Frame props win; defaults when absent or unspecified (``_Matrix`` 0, 2, 3 or above 14):
    :func:`default_matrix`; limited range; left chroma siting (0).
    """
    fam = clip.format.color_family
    if fam == vs.RGB:
        return {}
    matrix = int(props.get("_Matrix", 2))
    if matrix in (0, 2, 3) or matrix > 14:
        matrix = default_matrix(clip.width, clip.height)
    if "_Range" in props:  # R81: zimg convention, 1 = full
        full = int(props["_Range"]) == 1
    elif "_ColorRange" in props:  # older convention, 0 = full
        full = int(props["_ColorRange"]) == 0
    else:
        full = False
    args = {"matrix": matrix, "range_s": "full" if full else "limited"}
    if fam == vs.YUV:
        args["chromaloc"] = int(props.get("_ChromaLocation", 0))
    return args


def y4m_ready(clip: vs.VideoNode) -> vs.VideoNode:
    """``clip`` in a format y4m carries (YUV or GRAY, integer): RGB and float clips become
    YUV 4:4:4, 8-bit from 8-bit integer input, else 16-bit, with the matrix players assume
    for untagged video of that size (:func:`default_matrix`). Others are returned as they are.
    Used by the command line and ``scripts/interpolate.vpy`` (``vspipe -c y4m``)."""
    fmt = clip.format
    if fmt.color_family in (vs.YUV, vs.GRAY) and fmt.sample_type == vs.INTEGER:
        return clip
    bits = 8 if fmt.bits_per_sample <= 8 and fmt.sample_type == vs.INTEGER else 16
    target = vs.core.query_video_format(vs.YUV, vs.INTEGER, bits, 0, 0)
    return vs.core.resize.Bicubic(clip, format=target.id, matrix_s=default_matrix_name(clip.width, clip.height))

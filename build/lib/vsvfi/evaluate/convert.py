"""Frames between numpy and VapourSynth for the evaluation: clips made from arrays, the one
conversion of every clip to RGB24 (explicit colour arguments, colour props removed), RGB24
frames as arrays, and fetching frames in order with several requests in flight."""

from __future__ import annotations

import itertools
from collections import deque
from fractions import Fraction
from typing import Iterable, Iterator

import numpy as np
import vapoursynth as vs

from ..colour import zimg_args

core = vs.core

#: Frame rate given to clips that have none (PNG triplets, variable-rate files).
FALLBACK_FPS = Fraction(25)
#: Frame props that steer zimg's YUV<->RGB conversion; removed before converting.
COLOUR_PROPS = ("_Matrix", "_Range", "_ColorRange", "_ChromaLocation", "_Primaries", "_Transfer", "_FieldBased")


def colour_args(clip: vs.VideoNode, props) -> dict:
    """zimg ``*_in`` arguments that convert ``clip`` (with first-frame ``props``) to RGB.

    Empty for RGB. For YUV/GRAY: ``matrix_in`` (frame prop ``_Matrix`` when it names a
    matrix, else 1 = BT.709 for frames >= 1280 wide or >= 720 high, else 6 = BT.601),
    ``range_in_s`` (``_Range``/``_ColorRange``, default limited) and for YUV
    ``chromaloc_in`` (``_ChromaLocation``, default 0 = left).
    """
    # the filter's own rules, so scoring converts like vsvfi does
    return {f"{k[:-2]}_in_s" if k.endswith("_s") else f"{k}_in": v for k, v in zimg_args(props, clip).items()}


def to_rgb24(node: vs.VideoNode, colour: dict) -> vs.VideoNode:
    """``node`` as RGB24 through zimg (bicubic chroma upsampling, no dithering) with the
    explicit ``colour`` arguments; colour frame props are dropped first so that they
    cannot override the arguments."""
    fmt = node.format
    if fmt.id == vs.RGB24:
        return node
    node = core.std.RemoveFrameProps(node, list(COLOUR_PROPS))
    if fmt.color_family == vs.GRAY:
        g = core.resize.Bicubic(node, format=vs.GRAY8, range_in_s=colour.get("range_in_s", "limited"),
                                range_s="full", dither_type="none")
        return core.std.ShufflePlanes([g, g, g], [0, 0, 0], vs.RGB)
    return core.resize.Bicubic(node, format=vs.RGB24, dither_type="none", **colour)


def rgb_array(frame: vs.VideoFrame) -> np.ndarray:
    """An RGB24 frame as a (H, W, 3) uint8 array (a copy)."""
    return np.dstack([np.asarray(frame[p]) for p in range(3)])


def _fetch(node: vs.VideoNode, positions: Iterable[int], window: int | None = None) -> Iterator[tuple[int, vs.VideoFrame]]:
    """(n, frame) for ``positions`` in order, with up to ``window`` requests in flight."""
    window = window or max(1, core.num_threads)
    it = iter(positions)
    pending = deque((n, node.get_frame_async(n)) for n in itertools.islice(it, window))
    try:
        while pending:
            n, fut = pending.popleft()
            frame = fut.result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, node.get_frame_async(nxt)))
            yield n, frame
    finally:
        for _, fut in pending:  # an abandoned request must finish before its node goes
            try:
                fut.result()
            except Exception:
                pass


def clip_from_arrays(arrays: list[np.ndarray], fps: Fraction = FALLBACK_FPS) -> vs.VideoNode:
    """An RGB24 clip whose frame i holds ``arrays[i]`` ((H, W, 3) uint8, one shared size)."""
    h, w = arrays[0].shape[:2]
    blank = core.std.BlankClip(format=vs.RGB24, width=w, height=h, length=len(arrays),
                               fpsnum=fps.numerator, fpsden=fps.denominator, keep=True)

    def fill(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), arrays[n][:, :, p])
        return out

    return core.std.ModifyFrame(blank, blank, fill)

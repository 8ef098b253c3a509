"""Synthetic hard scenes with exact ground truth, cut from real frames.

Each builder returns a clip whose every frame is a window onto one real still image that
moves by a known number of pixels per frame, so the frame between two kept frames is known
exactly (it is the window at the middle position). They feed the hard-scene measurements in
``scripts/hard_scenes.py`` (docs/quality.md) and the tests.

* :func:`pan` — large motion: a window panning at ``speed`` pixels per frame.
* :func:`tiled` — repeated texture: a small real patch tiled into a periodic image, panned
  at a speed that is not a multiple of the period (the classic trap for flow estimators:
  several matches look equally good).
* :func:`overlay` — burnt-in subtitle and a corner logo (``core.text.Text``) drawn at the
  same place on every frame of a pan: the overlay must stay sharp and put.
"""

from __future__ import annotations

import numpy as np
import vapoursynth as vs

from .colour import default_matrix_name

core = vs.core


def still(path: str, frame: int, fmt: int = vs.RGB24) -> vs.VideoNode:
    """One frame of a video file (bestsource) as a 1-frame clip in ``fmt`` (RGB: BT.709
    matrix for 720p and up, else BT.601)."""
    src = core.bs.VideoSource(path)[frame]
    matrix = default_matrix_name(src.width, src.height)
    return core.resize.Bicubic(src, format=fmt, matrix_in_s=matrix)


def pan(image: vs.VideoNode, width: int, height: int, speed: tuple[int, int], frames: int,
        start: tuple[int, int] = (0, 0), fps: int = 25) -> vs.VideoNode:
    """``frames`` windows of width x height pixels cut from the 1-frame clip ``image``;
    window j starts at ``start + j * speed`` (pixels, x then y). Raises ValueError if a
    window leaves the image."""
    x0, y0 = start
    vx, vy = speed
    parts = []
    for j in range(frames):
        x, y = x0 + j * vx, y0 + j * vy
        if not (0 <= x and 0 <= y and x + width <= image.width and y + height <= image.height):
            raise ValueError(f"window {j} at ({x}, {y}) leaves the {image.width}x{image.height} image")
        parts.append(core.std.CropAbs(image, width, height, x, y))
    return core.std.AssumeFPS(core.std.Splice(parts), fpsnum=fps, fpsden=1)


def tiled(image: vs.VideoNode, patch: tuple[int, int, int, int], width: int, height: int) -> vs.VideoNode:
    """A ``width`` x ``height`` 1-frame clip made by tiling the real patch (x, y, w, h) of
    ``image``: a texture that repeats every w pixels across and h down."""
    x, y, w, h = patch
    tile = core.std.CropAbs(image, w, h, x, y)
    row = core.std.StackHorizontal([tile] * -(-width // w))
    full = core.std.StackVertical([row] * -(-height // h))
    return core.std.CropAbs(full, width, height, 0, 0)


SUBTITLE = "Burnt-in subtitle stays put"
LOGO = "LOGO"


def overlay(clip: vs.VideoNode) -> vs.VideoNode:
    """``clip`` (RGB24) with the same subtitle (bottom centre) and logo (top right) drawn
    on every frame: white glyphs of ``core.text.Text`` with a 1-pixel black outline and no
    box, so the moving background shows between the letters."""
    blank = core.std.BlankClip(clip, format=vs.GRAY8, length=1, color=0)
    text = core.text.Text(core.text.Text(blank, SUBTITLE, alignment=2, scale=2), LOGO, alignment=9, scale=3)
    glyphs = core.std.Binarize(text, 128)
    outline = core.std.Maximum(glyphs)
    n = clip.num_frames
    black = core.std.BlankClip(clip, color=[0, 0, 0])
    white = core.std.BlankClip(clip, color=[255, 255, 255])
    out = core.std.MaskedMerge(clip, black, outline * n, first_plane=True)
    return core.std.MaskedMerge(out, white, glyphs * n, first_plane=True)


def overlay_mask(clip: vs.VideoNode) -> np.ndarray:
    """Boolean (H, W) mask of the text region of :func:`overlay` on ``clip``: the bounding
    boxes of the subtitle (bottom half) and of the logo (top half), grown by 2 pixels. The
    boxes include the moving background between the glyphs."""
    a = np.stack([np.asarray(f) for f in _planes(clip.get_frame(0))])
    b = np.stack([np.asarray(f) for f in _planes(overlay(clip).get_frame(0))])
    changed = (a != b).any(0)
    mask = np.zeros_like(changed)
    half = changed.shape[0] // 2
    for rows in (slice(0, half), slice(half, None)):
        ys, xs = np.nonzero(changed[rows])
        if len(ys):
            y0 = ys.min() + rows.indices(changed.shape[0])[0]
            y1 = ys.max() + rows.indices(changed.shape[0])[0]
            mask[max(0, y0 - 2):y1 + 3, max(0, xs.min() - 2):xs.max() + 3] = True
    return mask


def _planes(frame: vs.VideoFrame):
    return [frame[p] for p in range(frame.format.num_planes)]

"""Frame <-> numpy helpers."""

from __future__ import annotations

import numpy as np
import vapoursynth as vs


def frame_array(frame: vs.VideoFrame) -> np.ndarray:
    """A constant-format frame's planes stacked into one (planes, H, W) array (a copy, in
    the frame's sample type). Planes must share one size (RGB, GRAY, YUV 4:4:4)."""
    return np.stack([np.asarray(frame[p]) for p in range(frame.format.num_planes)])


def write_planes(frame: vs.VideoFrame, arr: np.ndarray) -> None:
    """Copy ``arr`` (planes, H, W) into a writable frame of the same size, cast to its sample
    type (numpy's unsafe casting: the caller has made the values fit)."""
    for p in range(frame.format.num_planes):
        np.copyto(np.asarray(frame[p]), arr[p], casting="unsafe")

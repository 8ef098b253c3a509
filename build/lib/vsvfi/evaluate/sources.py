"""The inputs of the evaluation: video files (bestsource) and directories of PNG triplets
(Vimeo-90K, Middlebury) as sources, PNG reading, and the scene cuts of a video by vsvfi's
own measure."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import vapoursynth as vs

from ..scenes import SC_THRESHOLD, pair_stats
from .convert import FALLBACK_FPS, _fetch, clip_from_arrays
from .methods import EvaluateError

core = vs.core


@dataclass
class Source:
    """One evaluated input: a video file or a directory of triplets.

    open(): a fresh full-rate clip (a new decoder for videos, so that each method pays
    for its own decoding); triplets: list of (name, (first, middle, last) PNG paths).
    """

    name: str
    path: str
    kind: str  # "video" | "triplets"
    open: Callable[[], vs.VideoNode] | None = None
    triplets: list = field(default_factory=list)
    note: str = ""


def _open_video(path: str, frames: int | None) -> vs.VideoNode:
    clip = core.bs.VideoSource(path)
    if frames is not None:
        clip = clip[:frames]
    if clip.fps == 0:
        clip = core.std.AssumeFPS(clip, fpsnum=FALLBACK_FPS.numerator, fpsden=FALLBACK_FPS.denominator)
    return clip


def video_source(path: str, frames: int | None, name: str | None = None) -> Source:
    """A video file as a Source; raises EvaluateError if it is missing or undecodable,
    has a variable format or size, or fewer than 3 frames (after ``frames``)."""
    p = Path(path)
    if not p.is_file():
        raise EvaluateError(f"input not found: {path}")
    try:
        clip = _open_video(str(p), frames)
    except vs.Error as e:
        raise EvaluateError(f"cannot decode {path}: {str(e).splitlines()[0]}") from None
    if clip.format is None or clip.format.id == vs.NONE or clip.width == 0:
        raise EvaluateError(f"{path} has a variable format or frame size; not supported")
    if clip.num_frames < 3:
        raise EvaluateError(f"{path} has {clip.num_frames} frames; the protocol needs at least 3")
    fps_note = "" if core.bs.VideoSource(str(p)).fps else f"variable frame rate, evaluated as {FALLBACK_FPS} fps"
    return Source(name=name or p.stem, path=str(p), kind="video",
                  open=lambda: _open_video(str(p), frames), note=fps_note)


def find_triplets(root: Path) -> list[tuple[str, tuple[Path, Path, Path]]]:
    """Triplets under ``root``, sorted by name: Vimeo-90K (``im1/im2/im3.png`` in one
    folder, im2 the middle) and Middlebury (``frame10.png``, ``frame10i11.png``,
    ``frame11.png`` in one folder, or the official split into ``other-data/<seq>`` and
    ``other-gt-interp/<seq>``). Names are folder paths relative to ``root``."""
    found = {}
    for mid in root.rglob("im2.png"):
        d = mid.parent
        if (d / "im1.png").is_file() and (d / "im3.png").is_file():
            found[d.relative_to(root).as_posix() or "."] = (d / "im1.png", mid, d / "im3.png")
    for mid in root.rglob("frame10i11.png"):
        d = mid.parent
        data = d
        if not (d / "frame10.png").is_file() and d.parent.name == "other-gt-interp":
            data = d.parent.parent / "other-data" / d.name
        if (data / "frame10.png").is_file() and (data / "frame11.png").is_file():
            found[d.relative_to(root).as_posix() or "."] = (data / "frame10.png", mid, data / "frame11.png")
    return sorted(found.items())


def triplet_source(path: str, limit: int | None) -> Source:
    """A directory of triplets as a Source (the first ``limit`` when given); raises
    EvaluateError when none are found."""
    root = Path(path)
    trips = find_triplets(root)
    if not trips:
        raise EvaluateError(f"no triplets in {path} (expected **/im1.png, im2.png, im3.png or "
                            "<seq>/frame10.png, frame10i11.png, frame11.png)")
    if limit is not None:
        trips = trips[:limit]
    return Source(name=root.resolve().name or str(root), path=str(root), kind="triplets", triplets=trips)


def read_png(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB (alpha dropped, palettes and grey expanded;
    16-bit files are reduced to 8 bits by Pillow). Raises EvaluateError if unreadable."""
    try:
        from PIL import Image
    except ImportError:
        raise EvaluateError("triplet directories need Pillow: pip install 'vsvfi[evaluate]'") from None
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except OSError as e:
        raise EvaluateError(f"cannot read image {path}: {e}") from None


def _triplet_clip(name: str, paths) -> vs.VideoNode:
    arrays = [read_png(p) for p in paths]
    if len({a.shape for a in arrays}) != 1:
        raise EvaluateError(f"triplet {name}: the three images differ in size: {[a.shape[1::-1] for a in arrays]}")
    return clip_from_arrays(arrays)


def scene_cuts(clip: vs.VideoNode, threshold: float | None = None) -> list[int]:
    """Indices i where original frames i and i + 1 are a scene cut by vsvfi's measure
    (``VsvfiSCDiff`` of :func:`vsvfi.scenes.pair_stats` above ``threshold``, default
    :data:`vsvfi.scenes.SC_THRESHOLD`)."""
    thr = SC_THRESHOLD if threshold is None else threshold
    stats = pair_stats(clip)
    return [n for n, f in _fetch(stats, range(clip.num_frames - 1)) if f.props["VsvfiSCDiff"] > thr]

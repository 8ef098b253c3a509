"""Frame-dropping quality evaluation (``vsvfi evaluate``).

The protocol: from a clip keep every k-th frame, interpolate the kept clip back to the
original rate (ratio k) with each method, and compare only the synthesized frames with the
originals that were dropped. With M kept frames, output frame n is scored when
``n % k != 0`` and ``n < (M - 1) * k`` (strictly between two kept frames); output frame n
is compared with original frame n.

Scores, for every source x k x method:

* PSNR in dB on RGB24 (0..255, all three channels): per frame
  ``10 * log10(255**2 / MSE)`` (identical frames count as :data:`PSNR_CAP` dB), then the
  mean over the scored frames.
* SSIM: ``skimage.metrics.structural_similarity(gt, out, channel_axis=2, data_range=255)``
  on the same RGB24 arrays (7x7 uniform window), mean over frames. Optional (slow at 720p).
* synthesized frames per second: scored frames / wall seconds spent producing the
  method's output frames. The wall time covers decoding the kept frames, the method and
  the conversion of its output to RGB24 (not the scoring); see :func:`run` for details.

Outputs and ground truth go through one conversion: ``core.resize.Bicubic`` (zimg) to
RGB24 with the colour description of the source's first frame (``_Matrix``, ``_Range``,
``_ChromaLocation``; when absent or unspecified: BT.709 for frames at least 1280 wide or
720 high, else BT.601; limited range; left chroma siting). Colour frame props are removed
before converting, because zimg prefers frame props over arguments and a method could
otherwise change the conversion by what it writes in its props.

Scene cuts: pairs of kept frames whose original segment contains a cut are not scored and
are listed. Cuts are found on the full-rate original with vsvfi's own measure
(:func:`vsvfi.filter._scene_stats`, threshold :data:`vsvfi.filter.SC_THRESHOLD`).

Methods (see :func:`parse_method`): vsvfi models with options (``rife46``,
``rife46:scale=0.5``), the baselines ``dup`` and ``blend``, and the peers ``mv-flowfps``
and ``mv-blockfps`` (MVTools) and ``minterpolate`` (ffmpeg). Every method's output at the
kept positions is compared with the kept frames; a method whose kept positions do not
match (PSNR below :data:`ALIGN_DB`) is reported as misaligned and gets no scores.

Inputs: video files (bestsource), and directories of PNG triplets in the Vimeo-90K
(``**/im1.png, im2.png, im3.png``) or Middlebury (``<seq>/frame10.png, frame10i11.png,
frame11.png``) layout, each triplet scored at k = 2 as a 3-frame clip.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import os
import platform
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import vapoursynth as vs

core = vs.core

#: Default frame-drop factors.
DEFAULT_K = (2, 4, 8)
#: PSNR of two identical frames (dB); keeps means finite.
PSNR_CAP = 100.0
#: Minimum PSNR (dB) of a method's output at the kept positions against the kept frames.
ALIGN_DB = 48.0
BASELINES = ("dup", "blend")
PEERS = ("mv-flowfps", "mv-blockfps", "minterpolate")
#: ffmpeg minterpolate settings used for the ``minterpolate`` method (fps is added).
MINTERPOLATE = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir"
#: Frame rate given to clips that have none (PNG triplets, variable-rate files).
FALLBACK_FPS = Fraction(25)
#: Longest side of one tile in an image strip (pixels); larger frames are scaled down.
STRIP_TILE = 480
#: Narrower frames are enlarged by a whole factor (nearest neighbour) to at least this width.
STRIP_MIN = 320
#: Frame props that steer zimg's YUV<->RGB conversion; removed before converting.
COLOUR_PROPS = ("_Matrix", "_Range", "_ColorRange", "_ChromaLocation", "_Primaries", "_Transfer", "_FieldBased")
#: Interpolate() arguments evaluate sets itself.
_RESERVED = {"clip", "ratio", "fps", "model"}


class EvaluateError(Exception):
    """A one-line, user-facing problem: bad input, unknown method, failed method set-up."""


# ---------------------------------------------------------------------------------------
# methods


@dataclass(frozen=True)
class Method:
    """One column of the evaluation.

    label: as given on the command line (``rife46:scale=0.5``); kind: ``"vsvfi"``,
    ``"dup"``, ``"blend"``, ``"mv-flowfps"``, ``"mv-blockfps"`` or ``"minterpolate"``;
    model: the vsvfi model name (kind "vsvfi" only); options: extra keyword arguments for
    :func:`vsvfi.Interpolate`.
    """

    label: str
    kind: str
    model: str | None = None
    options: tuple[tuple[str, object], ...] = ()


def _value(text: str):
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_method(spec: str) -> Method:
    """Parse one method spec: ``dup``, ``blend``, ``mv-flowfps``, ``mv-blockfps``,
    ``minterpolate``, or a vsvfi model name with optional ``:key=value`` options
    (``rife46:scale=0.5:ensemble=1``). Values become int, float or bool (true/false,
    yes/no, on/off) where they parse as one, else stay strings.

    Raises EvaluateError for an unknown name, options on a non-vsvfi method, a malformed
    option or one that evaluate sets itself (ratio, fps, model, clip).
    """
    from .models import MODELS

    text = spec.strip()
    name, *opts = text.split(":")
    known = [*MODELS, *BASELINES, *PEERS]
    if name not in known:
        raise EvaluateError(f"unknown method {name!r}; known methods: {', '.join(known)}")
    if name not in MODELS:
        if opts:
            raise EvaluateError(f"method {name!r} takes no options (got {text!r})")
        return Method(label=name, kind=name)
    options = []
    for opt in opts:
        key, eq, val = opt.partition("=")
        if not eq or not key.isidentifier() or not val:
            raise EvaluateError(f"bad option {opt!r} in method {text!r}; expected key=value, e.g. rife46:scale=0.5")
        if key in _RESERVED:
            raise EvaluateError(f"option {key!r} in method {text!r} is set by evaluate itself")
        options.append((key, _value(val)))
    return Method(label=text, kind="vsvfi", model=name, options=tuple(options))


def _ffmpeg() -> str | None:
    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return exe if re.search(r"\sminterpolate\s", out) else None


def availability() -> dict[str, str | None]:
    """Method name -> None when it can run here, else the reason it cannot (one line)."""
    from .models import MODELS, verified_model

    out: dict[str, str | None] = {}
    for name in MODELS:
        try:
            verified_model(name)
            out[name] = None
        except Exception as e:  # missing export, stale manifest, ...
            out[name] = str(e).splitlines()[0] if str(e) else type(e).__name__
    out["dup"] = out["blend"] = None
    mv = None if hasattr(core, "mv") else "needs VapourSynth MVTools (pip install vapoursynth-mvtools, in vsvfi[evaluate])"
    out["mv-flowfps"] = out["mv-blockfps"] = mv
    out["minterpolate"] = None if _ffmpeg() else "needs ffmpeg with the minterpolate filter on PATH"
    return out


def resolve_methods(specs: Iterable[str] | None, provider: str = "auto",
                    log: Callable[[str], None] = lambda s: None) -> list[Method]:
    """Parse and check methods. ``specs`` None means every method that can run here
    (vsvfi models whose ONNX file is exported, then the baselines, then the peers); an
    unusable default method is left out with a note through ``log``. Explicitly named
    methods that cannot run raise EvaluateError. Each vsvfi method is tried once on a
    small blank clip, so a bad option fails here and not an hour into a run.
    """
    avail = availability()
    explicit = specs is not None
    if specs is None:
        specs = [m for m, why in avail.items() if why is None]
    methods, seen = [], set()
    for s in specs:
        m = parse_method(s)
        if m.label in seen:
            raise EvaluateError(f"method {m.label!r} is listed twice")
        seen.add(m.label)
        why = avail[m.model or m.kind]
        if why is None and m.kind == "vsvfi":
            why = _try_model(m, provider)
        if why is not None:
            if explicit:
                raise EvaluateError(f"method {m.label}: {why}")
            log(f"leaving out {m.label}: {why}")
            continue
        methods.append(m)
    if not methods:
        raise EvaluateError("no method can run here")
    return methods


def _try_model(m: Method, provider: str) -> str | None:
    from . import Interpolate

    rng = np.random.default_rng(0)  # textured frames, so the network really runs
    probe = core.resize.Bicubic(clip_from_arrays([rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(2)]),
                                format=vs.YUV420P8, matrix_s="170m")
    try:
        Interpolate(probe, ratio=2, model=m.model, **{"provider": provider, **dict(m.options)}).get_frame(1)
    except (vs.Error, TypeError, ValueError) as e:
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None


# ---------------------------------------------------------------------------------------
# colour


def colour_args(clip: vs.VideoNode, props) -> dict:
    """zimg ``*_in`` arguments that convert ``clip`` (with first-frame ``props``) to RGB.

    Empty for RGB. For YUV/GRAY: ``matrix_in`` (frame prop ``_Matrix`` when it names a
    matrix, else 1 = BT.709 for frames >= 1280 wide or >= 720 high, else 6 = BT.601),
    ``range_in_s`` (``_Range``/``_ColorRange``, default limited) and for YUV
    ``chromaloc_in`` (``_ChromaLocation``, default 0 = left).
    """
    from .filter import _colour  # the filter's own rules, so scoring converts like vsvfi does

    return {f"{k[:-2]}_in_s" if k.endswith("_s") else f"{k}_in": v for k, v in _colour(props, clip).items()}


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


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays of one shape, peak 255; :data:`PSNR_CAP` if equal."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse))


def _ssim_fn():
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        raise EvaluateError("SSIM needs scikit-image: pip install 'vsvfi[evaluate]', or pass --no-ssim") from None
    return lambda a, b: float(structural_similarity(a, b, channel_axis=2, data_range=255))


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


# ---------------------------------------------------------------------------------------
# sources


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


def _triplet_clip(name: str, paths) -> vs.VideoNode:
    arrays = [read_png(p) for p in paths]
    if len({a.shape for a in arrays}) != 1:
        raise EvaluateError(f"triplet {name}: the three images differ in size: {[a.shape[1::-1] for a in arrays]}")
    return clip_from_arrays(arrays)


def scene_cuts(clip: vs.VideoNode, threshold: float | None = None) -> list[int]:
    """Indices i where original frames i and i + 1 are a scene cut by vsvfi's measure
    (``VsvfiSCDiff`` of :func:`vsvfi.filter._scene_stats` above ``threshold``, default
    :data:`vsvfi.filter.SC_THRESHOLD`)."""
    from .filter import SC_THRESHOLD, _scene_stats

    thr = SC_THRESHOLD if threshold is None else threshold
    stats = _scene_stats(clip)
    return [n for n, f in _fetch(stats, range(clip.num_frames - 1)) if f.props["VsvfiSCDiff"] > thr]


# ---------------------------------------------------------------------------------------
# method outputs


class _VSOutput:
    """A method's output as a lazy VapourSynth clip, converted to RGB24."""

    def __init__(self, rgb: vs.VideoNode):
        self.rgb, self.num_frames = rgb, rgb.num_frames

    def render(self, positions: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        for n, f in _fetch(self.rgb, positions):
            yield n, rgb_array(f)

    def frame(self, n: int) -> np.ndarray | None:
        return rgb_array(self.rgb.get_frame(n)) if 0 <= n < self.num_frames else None

    def close(self) -> int:
        return self.num_frames


_PIX_FMT = {(vs.YUV, 1, 1): "yuv420p", (vs.YUV, 1, 0): "yuv422p", (vs.YUV, 0, 0): "yuv444p",
            (vs.YUV, 2, 2): "yuv410p", (vs.YUV, 2, 0): "yuv411p", (vs.YUV, 0, 1): "yuv440p", (vs.GRAY, 0, 0): "gray"}


class _FFmpegOutput:
    """ffmpeg minterpolate on the kept clip: y4m in on stdin (written by a thread), raw
    frames of the same pixel format out on stdout, read in order as positions are asked
    for. minterpolate emits (M - 2) * k + 1 frames for M inputs, holding back the last
    pair, so the last kept frame is fed twice; that adds frames only after it."""

    HEAD = 64  # frames kept for the alignment offset search

    def __init__(self, kept: vs.VideoNode, k: int, colour: dict, exe: str):
        fmt = kept.format
        self.fmt, self.w, self.h, self.colour = fmt, kept.width, kept.height, colour
        self.pix_fmt = _PIX_FMT[(fmt.color_family, fmt.subsampling_w, fmt.subsampling_h)]
        self.shapes = [(self.h >> (fmt.subsampling_h if p else 0), self.w >> (fmt.subsampling_w if p else 0))
                       for p in range(fmt.num_planes)]
        self.frame_bytes = sum(a * b for a, b in self.shapes)
        self.node = kept + kept[-1]
        fps = Fraction(kept.fps.numerator, kept.fps.denominator) * k
        self.cmd = [exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "yuv4mpegpipe", "-i", "-",
                    "-vf", f"minterpolate=fps={fps.numerator}/{fps.denominator}:{MINTERPOLATE}",
                    "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", self.pix_fmt, "-"]
        self.proc = None
        self.index = 0
        self.head: dict[int, bytes] = {}
        self.errors: list[str] = []
        self.stderr = b""
        self.num_frames = None

    def _start(self):
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def write():
            try:
                self.node.output(self.proc.stdin, y4m=True)
            except BrokenPipeError:
                pass
            except Exception as e:  # decoding failed: make it visible
                self.errors.append(f"feeding ffmpeg: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            finally:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass

        def drain_err():
            self.stderr = self.proc.stderr.read()

        self.threads = [threading.Thread(target=write, daemon=True), threading.Thread(target=drain_err, daemon=True)]
        for t in self.threads:
            t.start()

    def _next(self) -> bytes | None:
        data = self.proc.stdout.read(self.frame_bytes)
        if len(data) < self.frame_bytes:
            return None
        if self.index < self.HEAD:
            self.head[self.index] = data
        self.index += 1
        return data

    def _to_rgb(self, data: bytes) -> np.ndarray:
        blank = core.std.BlankClip(format=self.fmt.id, width=self.w, height=self.h, length=1, keep=True)
        buf = np.frombuffer(data, np.uint8)

        def fill(n, f):
            out = f.copy()
            off = 0
            for p, (h, w) in enumerate(self.shapes):
                np.copyto(np.asarray(out[p]), buf[off:off + h * w].reshape(h, w))
                off += h * w
            return out

        return rgb_array(to_rgb24(core.std.ModifyFrame(blank, blank, fill), self.colour).get_frame(0))

    def render(self, positions: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        if self.proc is None:
            self._start()
        for n in positions:
            while self.index <= n:
                i, data = self.index, self._next()
                if data is None:
                    return
                if i == n:
                    yield n, self._to_rgb(data)

    def frame(self, n: int) -> np.ndarray | None:
        return self._to_rgb(self.head[n]) if n in self.head else None

    def close(self) -> int:
        if self.proc is None:
            self._start()
        while self._next() is not None:
            pass
        rc = self.proc.wait()
        for t in self.threads:
            t.join(timeout=10)
        if rc != 0:
            err = self.stderr.decode(errors="replace").strip().splitlines()
            self.errors.append(f"ffmpeg failed: {err[-1] if err else f'exit status {rc}'}")
        self.num_frames = self.index
        return self.index

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _peer_input(kept: vs.VideoNode, colour: dict, *, bits_max: int) -> tuple[vs.VideoNode, dict]:
    """The kept clip in a format a peer takes (integer YUV/GRAY of at most ``bits_max``
    bits, 8-bit ffmpeg subsamplings), and the colour arguments that bring it back to RGB.
    RGB sources become YUV 4:4:4 BT.709 full range; deeper YUV keeps its colour."""
    fmt = kept.format
    fam = fmt.color_family
    if fam in (vs.YUV, vs.GRAY) and fmt.sample_type == vs.INTEGER and fmt.bits_per_sample <= bits_max and \
            (bits_max > 8 or (fam, fmt.subsampling_w, fmt.subsampling_h) in _PIX_FMT):
        return kept, colour
    bits = min(bits_max, 16)
    if fam == vs.RGB:
        target = core.query_video_format(vs.YUV, vs.INTEGER, bits, 0, 0)
        return (core.resize.Bicubic(kept, format=target.id, matrix_s="709", range_s="full", dither_type="none"),
                {"matrix_in_s": "709", "range_in_s": "full", "chromaloc_in": 0})
    ss = (fmt.subsampling_w, fmt.subsampling_h) if (vs.YUV, fmt.subsampling_w, fmt.subsampling_h) in _PIX_FMT else (0, 0)
    target = core.query_video_format(fam, vs.INTEGER, bits, *(ss if fam == vs.YUV else (0, 0)))
    node = core.std.RemoveFrameProps(kept, list(COLOUR_PROPS))
    rng = colour.get("range_in_s", "limited")
    out = core.resize.Bicubic(node, format=target.id, range_in_s=rng, range_s=rng, dither_type="none",
                              **({"chromaloc_in": colour.get("chromaloc_in", 0), "chromaloc": colour.get("chromaloc_in", 0)}
                                 if fam == vs.YUV else {}))
    return out, colour


def build_output(method: Method, kept: vs.VideoNode, k: int, colour: dict, provider: str):
    """The method's output for ``kept`` at ratio ``k`` as an object with render(positions)
    -> iterator of (n, (H, W, 3) uint8), frame(n), close() -> frame count. Raises vs.Error
    (or TypeError for an unknown Interpolate keyword) when the method cannot be built."""
    kind = method.kind
    if kind == "vsvfi":
        from . import Interpolate

        out = Interpolate(kept, ratio=k, model=method.model, **{"provider": provider, **dict(method.options)})
        return _VSOutput(to_rgb24(out, colour))
    if kind == "dup":
        return _VSOutput(to_rgb24(core.std.Interleave([kept] * k), colour))
    if kind == "blend":
        a = to_rgb24(kept, colour)
        b = a[1:] + a[-1]
        phases = [a] + [core.std.Expr([a, b], f"x {1 - p / k!r} * y {p / k!r} * +") for p in range(1, k)]
        return _VSOutput(core.std.Interleave(phases))
    fps = Fraction(kept.fps.numerator, kept.fps.denominator) * k
    if kind in ("mv-flowfps", "mv-blockfps"):
        src, back = _peer_input(kept, colour, bits_max=16)
        sup = core.mv.Super(src)
        bw = core.mv.Analyse(sup, isb=True)
        fw = core.mv.Analyse(sup, isb=False)
        fn = core.mv.FlowFPS if kind == "mv-flowfps" else core.mv.BlockFPS
        return _VSOutput(to_rgb24(fn(src, sup, bw, fw, num=fps.numerator, den=fps.denominator), back))
    if kind == "minterpolate":
        exe = _ffmpeg()
        if exe is None:
            raise vs.Error("ffmpeg with the minterpolate filter is not on PATH")
        src, back = _peer_input(kept, colour, bits_max=8)
        return _FFmpegOutput(src, k, back, exe)
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------
# evaluation


@dataclass
class MethodResult:
    """Scores of one method on one source at one k. psnr/ssim: per scored frame (dB,
    0..1), in the order of ``frames`` (output frame numbers, or triplet names); seconds:
    wall time producing output frames; kept_db: worst PSNR at the kept positions."""

    method: str
    frames: list = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    seconds: float = 0.0
    kept_db: float = PSNR_CAP
    output_frames: int | None = None
    errors: list[str] = field(default_factory=list)
    misaligned: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.misaligned is None and bool(self.psnr)

    @property
    def mean_psnr(self) -> float | None:
        return float(np.mean(self.psnr)) if self.ok else None

    @property
    def mean_ssim(self) -> float | None:
        return float(np.mean(self.ssim)) if self.ok and self.ssim else None

    @property
    def fps(self) -> float | None:
        return len(self.psnr) / self.seconds if self.ok and self.seconds > 0 else None

    @property
    def status(self) -> str:
        if self.errors:
            return "failed: " + self.errors[0] + (f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else "")
        if self.misaligned:
            return "misaligned: " + self.misaligned
        return "" if self.psnr else "nothing scored"


@dataclass
class SourceResult:
    """One source at one k. excluded: pairs not scored, each {"frames": [a, b], "cuts":
    [[i, i + 1], ...]}; pairs: number of scored pairs; strip: data for the image strip."""

    source: str
    kind: str
    path: str
    k: int
    width: int
    height: int
    frames: int
    kept: int
    pairs: int
    excluded: list[dict]
    methods: dict[str, MethodResult]
    note: str = ""
    strip: dict | None = None


@dataclass
class _Unit:
    """One kept clip to interpolate: ``open()`` gives the full-rate original; ``pairs``
    the indices j of kept pairs (j * k, (j + 1) * k) to score; ``ids`` names its frames."""

    open: Callable[[], vs.VideoNode]
    k: int
    pairs: list[int]
    ids: Callable[[int], object] = lambda n: n


def _chunks(positions: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(positions), size):
        yield positions[i:i + size]


def _run_unit(unit: _Unit, methods: list[Method], results: dict[str, MethodResult], ssim, provider: str,
              strip_at: int | None = None, strip: dict | None = None) -> None:
    """Evaluate every method on one unit, adding to ``results``; methods are interleaved
    per chunk of positions so that ground truth is decoded once and memory stays bounded."""
    k = unit.k
    gt_clip = unit.open()
    colour = colour_args(gt_clip, gt_clip.get_frame(0).props)
    gt_rgb = to_rgb24(gt_clip, colour)
    m_kept = len(range(0, gt_clip.num_frames, k))
    last = (m_kept - 1) * k
    kept_pos = list(range(0, last + 1, k))
    scored = [j * k + p for j in unit.pairs for p in range(1, k)]
    needed = sorted(set(kept_pos) | set(scored))
    scored_set = set(scored)
    outs = {}
    try:
        for m in methods:
            try:
                kept = unit.open()[::k]
                out = build_output(m, kept, k, colour, provider)
            except (vs.Error, TypeError, ValueError) as e:
                results[m.label].errors.append(f"{m.label}: {str(e).splitlines()[0]}")
                continue
            if isinstance(out, _VSOutput) and out.num_frames <= last:
                results[m.label].errors.append(f"output has {out.num_frames} frames, needs {last + 1}")
                continue
            outs[m.label] = out
        size = max(k + 1, min(128, (256 << 20) // (gt_clip.width * gt_clip.height * 3 * (len(outs) + 1))))
        head_gt = {}
        for chunk in _chunks(needed, size):
            gt = {n: rgb_array(f) for n, f in _fetch(gt_rgb, chunk)}
            for n in kept_pos[:8]:
                if n in gt:
                    head_gt[n] = gt[n]
            if strip is not None and strip_at is not None:
                for n in (strip_at - strip_at % k, strip_at - strip_at % k + k, strip_at):
                    if n in gt:
                        strip.setdefault("gt", {})[n] = gt[n]
            for label, out in list(outs.items()):
                res = results[label]
                t0 = time.perf_counter()
                try:
                    got = dict(out.render(chunk))
                except vs.Error as e:
                    res.errors.append(f"frame error: {str(e).splitlines()[0]}")
                    del outs[label]
                    continue
                res.seconds += time.perf_counter() - t0
                missing = [n for n in chunk if n not in got]
                if missing:
                    res.errors.append(f"output ended before frame {missing[0]} (needs {last + 1} frames)")
                    del outs[label]
                    continue
                for n, arr in got.items():
                    if n in scored_set:
                        res.frames.append(unit.ids(n))
                        res.psnr.append(psnr(arr, gt[n]))
                        if ssim is not None:
                            res.ssim.append(ssim(gt[n], arr))
                        if n == strip_at and strip is not None:
                            strip.setdefault("out", {})[label] = (arr, res.psnr[-1])
                    else:
                        res.kept_db = min(res.kept_db, psnr(arr, gt[n]))
        for label, out in outs.items():
            res = results[label]
            count = out.close()
            res.output_frames = count if res.output_frames is None else res.output_frames + count
            res.errors.extend(getattr(out, "errors", []))
            if res.kept_db < ALIGN_DB and res.misaligned is None:
                res.misaligned = _offset_note(out, head_gt, k, res.kept_db)
    finally:
        for out in outs.values():
            if isinstance(out, _FFmpegOutput):
                out.kill()


def _offset_note(out, head_gt: dict[int, np.ndarray], k: int, kept_db: float) -> str:
    best = None
    for d in range(-2 * k, 2 * k + 1):
        if d == 0:
            continue
        vals = [psnr(a, g) for n, g in head_gt.items() if (a := out.frame(n + d)) is not None]
        if vals and (best is None or min(vals) > best[1]):
            best = (d, min(vals))
    note = f"output at the kept positions is {kept_db:.1f} dB from the kept frames (needs {ALIGN_DB:g})"
    if best is not None and best[1] >= ALIGN_DB:
        return note + f"; output frame n{best[0]:+d} matches original frame n (offset {best[0]:+d})"
    return note + f"; no offset within +-{2 * k} frames matches"


def evaluate_video(src: Source, k: int, methods: list[Method], ssim, provider: str, cuts: list[int],
                   strips: bool) -> SourceResult:
    """One video source at one k (see the module docstring for the protocol)."""
    clip = src.open()
    m_kept = len(range(0, clip.num_frames, k))
    cutset = set(cuts)
    pairs, excluded = [], []
    for j in range(m_kept - 1):
        inside = [i for i in range(j * k, (j + 1) * k) if i in cutset]
        if inside:
            excluded.append({"frames": [j * k, (j + 1) * k], "cuts": [[i, i + 1] for i in inside]})
        else:
            pairs.append(j)
    results = {m.label: MethodResult(m.label) for m in methods}
    strip = {} if strips and pairs else None
    strip_at = pairs[0] * k + k // 2 if pairs else None
    if pairs:
        _run_unit(_Unit(src.open, k, pairs), methods, results, ssim, provider, strip_at, strip)
    if strip is not None:
        strip.update(at=strip_at, k=k, pair=[strip_at - strip_at % k, strip_at - strip_at % k + k])
    return SourceResult(source=src.name, kind="video", path=src.path, k=k, width=clip.width, height=clip.height,
                        frames=clip.num_frames, kept=m_kept, pairs=len(pairs), excluded=excluded, methods=results,
                        note="; ".join(x for x in (src.note, "" if pairs else (
                            f"too short for k={k}" if m_kept < 2 else "every pair straddles a scene cut")) if x),
                        strip=strip)


def evaluate_triplets(src: Source, methods: list[Method], ssim, provider: str, strips: bool,
                      log: Callable[[str], None]) -> SourceResult:
    """Every triplet of a directory at k = 2: the outer images as kept frames, the middle
    one as ground truth (output frame 1)."""
    results = {m.label: MethodResult(m.label) for m in methods}
    strip = {} if strips else None
    sizes = set()
    for i, (name, paths) in enumerate(src.triplets):
        clip = _triplet_clip(name, paths)
        sizes.add((clip.width, clip.height))
        _run_unit(_Unit(lambda c=clip: c, 2, [0], ids=lambda n, name=name: name), methods, results, ssim, provider,
                  1 if i == 0 else None, strip if i == 0 else None)
        if (i + 1) % 100 == 0:
            log(f"{src.name}: {i + 1}/{len(src.triplets)} triplets")
    if strip is not None:
        strip.update(at=1, k=2, pair=[0, 2], name=src.triplets[0][0])
    w, h = next(iter(sizes)) if len(sizes) == 1 else (0, 0)
    return SourceResult(source=src.name, kind="triplets", path=src.path, k=2, width=w, height=h,
                        frames=len(src.triplets), kept=2, pairs=len(src.triplets), excluded=[], methods=results,
                        note="" if len(sizes) == 1 else f"{len(sizes)} frame sizes", strip=strip)


# ---------------------------------------------------------------------------------------
# run + reports


@dataclass
class Report:
    meta: dict
    results: list[SourceResult]
    methods: list[str]


def machine_info(provider: str = "auto") -> dict:
    """Machine and versions for the report: CPU model and count, memory, GPU (nvidia-smi,
    else "none"), and versions of VapourSynth, ONNX Runtime, MVTools, ffmpeg, scikit-image,
    numpy and vsvfi (with the git commit when run from a checkout)."""
    from importlib import metadata

    from . import __version__

    info = {"cpu_count": os.cpu_count(), "cpu": platform.processor() or platform.machine(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    gpu = "none"
    if shutil.which("nvidia-smi"):
        try:
            r = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True, timeout=20)
            gpu = ", ".join(r.stdout.split("\n")).strip(", ") if r.returncode == 0 and r.stdout.strip() else "none"
        except (OSError, subprocess.SubprocessError):
            pass
    info["gpu"] = gpu
    versions = {"vsvfi": __version__, "vapoursynth": f"R{core.core_version.release_major}"}
    try:
        git = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent.parent), "describe", "--always",
                              "--dirty"], capture_output=True, text=True, timeout=10)
        if git.returncode == 0:
            versions["vsvfi"] += f" (git {git.stdout.strip()})"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
        info["onnxruntime_providers"] = onnxruntime.get_available_providers()
    except ImportError:
        pass
    if hasattr(core, "mv"):
        try:
            versions["mvtools"] = metadata.version("vapoursynth-mvtools")
        except metadata.PackageNotFoundError:
            versions["mvtools"] = next((p.name for p in core.plugins() if p.namespace == "mv"), "?")
    exe = shutil.which("ffmpeg")
    if exe:
        try:
            first = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20).stdout.split("\n")[0]
            versions["ffmpeg"] = first.split(" ")[2] if first.startswith("ffmpeg version") else first
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
    for dist in ("scikit-image", "numpy", "pillow"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    info["versions"] = versions
    info["provider"] = provider
    return info


def run(inputs: list[str], *, samples: bool = False, ks: Iterable[int] = DEFAULT_K, methods: list[str] | None = None,
        frames: int | None = None, ssim: bool = True, provider: str = "auto", strips: bool = False,
        command: str = "", log: Callable[[str], None] = lambda s: None) -> Report:
    """Run the protocol on ``inputs`` (video files, triplet directories) and, with
    ``samples``, the three sample clips; for every k in ``ks`` (ints >= 2; triplet
    directories always use k = 2) and every method in ``methods`` (specs for
    :func:`parse_method`; None: all that run here). ``frames`` keeps the first N frames of
    each video and the first N triplets of each directory.

    Timing: for VapourSynth methods (vsvfi, dup, blend, MVTools) the wall time of
    requesting, in order and with as many requests in flight as VapourSynth has threads,
    the output frames at the scored and kept positions, each converted to RGB24, from a
    graph with its own decoder; for minterpolate the time spent reading ffmpeg's output
    (ffmpeg runs on the whole stream, pairs excluded from scoring included, and for
    triplets one ffmpeg process per triplet). Scoring is not timed.

    Returns a Report; progress lines go to ``log``. Raises EvaluateError for bad input
    (nothing is evaluated then) and for an unknown or unusable method.
    """
    ks = list(dict.fromkeys(ks))
    bad = [k for k in ks if not isinstance(k, int) or isinstance(k, bool) or k < 2]
    if bad or not ks:
        raise EvaluateError(f"k must be whole numbers >= 2, got {bad[0] if bad else 'none'}")
    if frames is not None and frames < 3:
        raise EvaluateError(f"--frames must be at least 3, got {frames}")
    sources = []
    if samples:
        from . import assets

        for stem, asset in assets.SAMPLES.items():
            try:
                path = assets.fetch(asset)
            except assets.AssetError as e:
                raise EvaluateError(f"sample {stem}: {str(e).splitlines()[0]}") from None
            sources.append(video_source(str(path), frames, stem))
    for inp in inputs:
        p = Path(inp)
        if p.is_dir():
            sources.append(triplet_source(inp, frames))
        else:
            sources.append(video_source(inp, frames))
    if not sources:
        raise EvaluateError("nothing to evaluate: give video files or triplet directories, or --samples")
    names = [s.name for s in sources]
    for s in sources:  # unique names for tables and strip files
        if names.count(s.name) > 1:
            s.name = f"{s.name} ({s.path})"
    score_ssim = _ssim_fn() if ssim else None
    if strips and importlib.util.find_spec("PIL") is None:
        raise EvaluateError("--strips needs Pillow: pip install 'vsvfi[evaluate]'")
    chosen = resolve_methods(methods, provider, log)
    meta = {"command": command, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "ks": ks, "frames": frames, "ssim": ssim, "psnr_cap_db": PSNR_CAP, "align_db": ALIGN_DB,
            "minterpolate": MINTERPOLATE, **machine_info(provider)}
    from .filter import SC_THRESHOLD

    meta["sc_threshold"] = SC_THRESHOLD
    results = []
    for src in sources:
        if src.kind == "triplets":
            t0 = time.perf_counter()
            log(f"{src.name}: {len(src.triplets)} triplets, k=2")
            res = evaluate_triplets(src, chosen, score_ssim, provider, strips, log)
            results.append(res)
            _log_result(res, log, time.perf_counter() - t0)
            continue
        clip = src.open()
        log(f"{src.name}: {clip.width}x{clip.height}, {clip.num_frames} frames, {clip.fps} fps; finding scene cuts")
        cuts = scene_cuts(src.open())
        for k in ks:
            t0 = time.perf_counter()
            res = evaluate_video(src, k, chosen, score_ssim, provider, cuts, strips)
            results.append(res)
            _log_result(res, log, time.perf_counter() - t0)
    return Report(meta=meta, results=results, methods=[m.label for m in chosen])


def _log_result(res: SourceResult, log, wall: float) -> None:
    parts = []
    for label, m in res.methods.items():
        if m.ok:
            parts.append(f"{label} {m.mean_psnr:.2f} dB {m.seconds:.1f} s")
        else:
            parts.append(f"{label} {m.status.split(':')[0]}")
    log(f"{res.source} k={res.k}: {len(next(iter(res.methods.values())).psnr) if res.methods else 0} frames scored "
        f"in {wall:.1f} s: " + ", ".join(parts))


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def means(report: Report) -> dict[tuple[int, str], dict]:
    """(k, method) -> mean over sources of the per-source mean PSNR and SSIM (sources
    where the method scored), with the number of sources and the pooled synthesized
    frames per second (all scored frames / all seconds)."""
    out = {}
    for k in sorted({r.k for r in report.results}):
        for label in report.methods:
            rs = [r.methods[label] for r in report.results if r.k == k and label in r.methods and r.methods[label].ok]
            if not rs:
                continue
            ssims = [r.mean_ssim for r in rs if r.mean_ssim is not None]
            secs = sum(r.seconds for r in rs)
            out[(k, label)] = {"psnr": float(np.mean([r.mean_psnr for r in rs])),
                               "ssim": float(np.mean(ssims)) if len(ssims) == len(rs) else None,
                               "fps": sum(len(r.psnr) for r in rs) / secs if secs > 0 else None,
                               "sources": len(rs),
                               "of": sum(1 for r in report.results if r.k == k and r.pairs)}
    return out


def format_table(report: Report) -> str:
    """The plain-text table: source x k x method with PSNR, SSIM, synthesized frames/s,
    frames scored and a note, then the means over sources, excluded pairs and notes."""
    rows = [("source", "k", "method", "PSNR dB", "SSIM", "synth f/s", "frames", "note")]
    for r in report.results:
        for label, m in r.methods.items():
            rows.append((r.source, str(r.k), label, _fmt(m.mean_psnr, ".2f"), _fmt(m.mean_ssim, ".4f"),
                         _fmt(m.fps, ".2f"), str(len(m.psnr)) if m.ok else "-", m.status or r.note))
    mean = means(report)
    for (k, label), v in mean.items():
        rows.append((f"mean over sources ({v['sources']}/{v['of']})", str(k), label, _fmt(v["psnr"], ".2f"),
                     _fmt(v["ssim"], ".4f"), _fmt(v["fps"], ".2f"), "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(7)]
    right = {1, 3, 4, 5, 6}
    lines = []
    for i, row in enumerate(rows):
        cells = [c.rjust(widths[j]) if j in right else c.ljust(widths[j]) for j, c in enumerate(row[:7])]
        lines.append("  ".join(cells) + (f"  {row[7]}" if row[7] else ""))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.extend(_excluded_lines(report) or ["excluded pairs: none"])
    return "\n".join(lines) + "\n"


def _excluded_lines(report: Report) -> list[str]:
    lines = []
    for r in report.results:
        if r.excluded:
            items = ", ".join(f"{e['frames'][0]}-{e['frames'][1]} (cut {', '.join(f'{a}/{b}' for a, b in e['cuts'])})"
                              for e in r.excluded)
            lines.append(f"excluded pairs, {r.source} k={r.k}: {items}")
    return lines


def to_json(report: Report) -> dict:
    """The report as JSON-ready data (per-frame values included)."""
    res = []
    for r in report.results:
        ms = {}
        for label, m in r.methods.items():
            ms[label] = {"psnr": m.mean_psnr, "ssim": m.mean_ssim, "synth_fps": m.fps, "seconds": m.seconds,
                         "frames_scored": len(m.psnr) if m.ok else 0, "output_frames": m.output_frames,
                         "kept_psnr_min": m.kept_db, "status": m.status or "ok",
                         "per_frame": {"frames": m.frames, "psnr": m.psnr, "ssim": m.ssim}}
        res.append({"source": r.source, "kind": r.kind, "path": r.path, "k": r.k, "width": r.width,
                    "height": r.height, "frames": r.frames, "kept": r.kept, "pairs_scored": r.pairs,
                    "excluded": r.excluded, "note": r.note, "methods": ms})
    mean = [{"k": k, "method": label, **v} for (k, label), v in means(report).items()]
    return {"meta": report.meta, "methods": report.methods, "results": res, "mean": mean}


def to_markdown(report: Report, strips: dict[str, str] | None = None) -> str:
    """Markdown: how it was made (command, date, machine, versions), one table per k
    (PSNR / SSIM per source and the mean), a speed table, excluded pairs, notes and links
    to the image strips (``strips``: source -> path relative to the markdown file)."""
    meta = report.meta
    v = meta["versions"]
    ver = ", ".join(f"{name} {v[key]}" for name, key in (("vsvfi", "vsvfi"), ("VapourSynth", "vapoursynth"),
                    ("ONNX Runtime", "onnxruntime"), ("MVTools", "mvtools"), ("ffmpeg", "ffmpeg"),
                    ("scikit-image", "scikit-image"), ("numpy", "numpy")) if key in v)
    out = ["<!-- written by vsvfi evaluate --markdown; regenerate rather than edit -->", "",
           f"Command: `{meta['command']}`", "",
           f"Date: {meta['date']}. Machine: {meta['cpu']}, {meta['cpu_count']} CPU cores"
           + (f", {meta['memory_gib']} GiB RAM" if "memory_gib" in meta else "")
           + f", GPU: {meta['gpu']}; vsvfi provider: {meta['provider']}"
           + (f" (ONNX Runtime providers here: {', '.join(meta.get('onnxruntime_providers', []))})" if meta.get("onnxruntime_providers") else "")
           + ".", "", f"Versions: {ver}.", ""]
    out.append(f"PSNR (dB, RGB24) / SSIM{'' if meta['ssim'] else ' (not computed)'} on the synthesized frames "
               f"only, mean over frames; 'mean' is the mean over sources. minterpolate: `{meta['minterpolate']}`; "
               "MVTools: `Super`, `Analyse(isb=True/False)`, `FlowFPS`/`BlockFPS` at default settings.")
    out.append("")
    results = report.results
    mean = means(report)
    for k in sorted({r.k for r in results}):
        rk = [r for r in results if r.k == k]
        out.append(f"### k = {k}")
        out.append("")
        head = ["method"] + [f"{r.source} ({r.width}x{r.height}, {_scored(r)} frames)" for r in rk] + ["mean"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for label in report.methods:
            cells = [label]
            for r in rk:
                m = r.methods.get(label)
                cells.append(_cell(m))
            mv = mean.get((k, label))
            cells.append("-" if mv is None else f"{mv['psnr']:.2f}" + (f" / {mv['ssim']:.4f}" if mv["ssim"] is not None else "")
                         + ("" if mv["sources"] == mv["of"] else f" ({mv['sources']} of {mv['of']})"))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out.append("### Speed: synthesized frames per second")
    out.append("")
    out.append("Scored frames / wall seconds producing them (decoding, the method and conversion of its output to "
               "RGB24 included; scoring excluded). For minterpolate the time also covers ffmpeg start-up and the "
               "frames of pairs excluded from scoring.")
    out.append("")
    cols = [(r.source, r.k) for r in results]
    out.append("| method | " + " | ".join(f"{s} k={k}" for s, k in cols) + " |")
    out.append("|---|" + "---|" * len(cols))
    for label in report.methods:
        out.append(f"| {label} | " + " | ".join(_fmt(r.methods[label].fps if label in r.methods else None, ".2f")
                                                 for r in results) + " |")
    out.append("")
    exc = _excluded_lines(report)
    out.append("### Excluded pairs (scene cuts)")
    out.append("")
    out.extend([f"- {line.removeprefix('excluded pairs, ')}" for line in exc] or ["- none"])
    out.append("")
    notes = [f"- {r.source} k={r.k}, {label}: {m.status}" for r in results for label, m in r.methods.items()
             if m.status] + [f"- {r.source} k={r.k}: {r.note}" for r in results if r.note]
    if notes:
        out.append("### Notes")
        out.append("")
        out.extend(notes)
        out.append("")
    if strips:
        out.append("### Image strips")
        out.append("")
        for src, rel in strips.items():
            out.append(f"![{src}]({rel})")
            out.append("")
    return "\n".join(out)


def _scored(r: SourceResult) -> str:
    counts = {len(m.psnr) for m in r.methods.values() if m.ok}
    return str(counts.pop()) if len(counts) == 1 else "-"


def _cell(m: MethodResult | None) -> str:
    if m is None:
        return "-"
    if not m.ok:
        return "misaligned" if m.misaligned else ("failed" if m.errors else "-")
    return f"{m.mean_psnr:.2f}" + (f" / {m.mean_ssim:.4f}" if m.mean_ssim is not None else "")


def write_strips(report: Report, folder: Path) -> dict[str, Path]:
    """One PNG per source (for its largest k): the kept pair, the ground truth and each
    method's frame at the middle of the first scored pair, labelled with method and PSNR,
    on a grid of at most 4 columns (frames larger than :data:`STRIP_TILE` pixels are scaled
    down, frames narrower than :data:`STRIP_MIN` enlarged by a whole factor). Returns source -> written path."""
    from PIL import Image, ImageDraw, ImageFont

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    best: dict[str, SourceResult] = {}
    for r in report.results:
        if r.strip and "gt" in r.strip and (r.source not in best or r.k > best[r.source].k):
            best[r.source] = r
    try:
        font = ImageFont.load_default(size=15)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for src, r in best.items():
        s = r.strip
        a, b = s["pair"]
        tiles = [(f"input frame {a}", s["gt"].get(a)), (f"input frame {b}", s["gt"].get(b)),
                 (f"ground truth frame {s['at']}", s["gt"].get(s["at"]))]
        for label in report.methods:
            if label in s.get("out", {}) and r.methods[label].ok:
                arr, db = s["out"][label]
                tiles.append((f"{label}: {db:.2f} dB", arr))
        tiles = [(t, x) for t, x in tiles if x is not None]
        h, w = tiles[0][1].shape[:2]
        # large frames scaled down to STRIP_TILE, small ones enlarged by pixel repetition
        scale = STRIP_TILE / max(w, h) if max(w, h) > STRIP_TILE else float(max(1, -(-STRIP_MIN // w)))
        tw, th = max(1, round(w * scale)), max(1, round(h * scale))
        lines = []
        for text, _ in tiles:
            head, sep, tail = text.rpartition(": ")
            lines.append([text] if not sep or draw_len(font, text) <= tw - 6 else [head + ":", tail])
        bar = 6 + 19 * max(len(x) for x in lines)
        cols = min(4, len(tiles))
        rows = -(-len(tiles) // cols)
        sheet = Image.new("RGB", (cols * tw + (cols + 1) * 4, rows * (th + bar) + (rows + 1) * 4), (32, 32, 32))
        draw = ImageDraw.Draw(sheet)
        for i, ((_, arr), text) in enumerate(zip(tiles, lines)):
            x = 4 + (i % cols) * (tw + 4)
            y = 4 + (i // cols) * (th + bar + 4)
            im = Image.fromarray(arr)
            if scale != 1:
                im = im.resize((tw, th), Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST)
            sheet.paste(im, (x, y + bar))
            for j, line in enumerate(text):
                draw.text((x + 3, y + 3 + 19 * j), line, fill=(240, 240, 240), font=font)
        title = f"{src}, k={r.k}" + (f", triplet {s['name']}" if "name" in s else "")
        path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", src).strip("_") + ".png")
        sheet.save(path, optimize=True)
        written[src] = path
        report.meta.setdefault("strips", {})[src] = {"path": str(path), "title": title, "frame": s["at"], "k": r.k}
    return written


def write_outputs(report: Report, json_path: str | None, markdown_path: str | None, strips_dir: str | None) -> None:
    """Write the requested files (parent folders are created). Raises EvaluateError on
    an OS error."""
    try:
        strips = write_strips(report, Path(strips_dir)) if strips_dir else {}
        if json_path:
            Path(json_path).parent.mkdir(parents=True, exist_ok=True)
            Path(json_path).write_text(json.dumps(to_json(report), indent=1, default=_json_default) + "\n")
        if markdown_path:
            md = Path(markdown_path)
            md.parent.mkdir(parents=True, exist_ok=True)
            rel = {s: os.path.relpath(p, md.parent) for s, p in strips.items()}
            md.write_text(to_markdown(report, rel))
    except OSError as e:
        raise EvaluateError(f"cannot write output: {e}") from None


def draw_len(font, text: str) -> float:
    """Width in pixels of ``text`` in ``font``."""
    from PIL import Image, ImageDraw

    return ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=font)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)

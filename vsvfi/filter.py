"""The VapourSynth filter: :func:`Interpolate`."""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction

import numpy as np
import vapoursynth as vs

from .engine import ProviderError, get_engine
from .models import MODELS, ModelFileError
from .timing import output_length, position, to_fraction

core = vs.core

#: Default scene-change threshold: mean absolute luma difference (0..1) of a downscaled
#: pair of neighbouring source frames. Tuned on bikes.mp4 (docs/scene-change.md).
SC_THRESHOLD = 0.12
#: Width of the luma thumbnails the scene-change measure is computed on.
SC_WIDTH = 320

#: Frame props written on every output frame.
PROP_SYNTHESIZED = "VsvfiSynthesized"  # int: 1 if the network made this frame, else 0
PROP_TIMESTEP = "VsvfiTimestep"  # float in [0, 1): position between source frames i and i+1
PROP_SOURCE = "VsvfiSourceFrame"  # int: i, the source frame at or before this output frame
PROP_SCENE_CHANGE = "VsvfiSceneChange"  # int: 1 if a scene change made this a duplicate of i
_STALE = ("_AbsoluteTime", "_SceneChangeNext", "_SceneChangePrev")
_tokens = itertools.count(1)


def frame_array(frame: vs.VideoFrame) -> np.ndarray:
    """A constant-format frame's planes stacked into one (planes, H, W) array (a copy, in
    the frame's sample type). Planes must share one size (RGB, GRAY, YUV 4:4:4)."""
    return np.stack([np.asarray(frame[p]) for p in range(frame.format.num_planes)])


def _drop(props, keys) -> None:
    for k in keys:
        if k in props:
            del props[k]


def _fail(msg: str):
    raise vs.Error(f"vsvfi.Interpolate: {msg}")


def _colour(props, clip: vs.VideoNode) -> dict:
    """zimg arguments describing a non-RGB source frame: matrix, range, chroma location.

    Frame props win; defaults when absent or unspecified: BT.709 matrix for frames at
    least 1280 wide or 720 high, else BT.601 (170m); limited range; left chroma siting.
    """
    fam = clip.format.color_family
    if fam == vs.RGB:
        return {}
    matrix = int(props.get("_Matrix", 2))
    if matrix in (0, 2, 3) or matrix > 14:
        matrix = 1 if clip.width >= 1280 or clip.height >= 720 else 6
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


def _to_network(node: vs.VideoNode, colour: dict) -> vs.VideoNode:
    if not colour:  # RGB
        return node if node.format.sample_type == vs.FLOAT else core.resize.Point(node, format=vs.RGBS)
    args = {"matrix_in": colour["matrix"], "range_in_s": colour["range_s"]}
    if "chromaloc" in colour:
        args["chromaloc_in"] = colour["chromaloc"]
    return core.resize.Bicubic(node, format=vs.RGBS, **args)


def _from_network(node: vs.VideoNode, fmt: vs.VideoFormat, colour: dict) -> vs.VideoNode:
    if node.format.id == fmt.id:
        return node
    return core.resize.Bicubic(node, format=fmt.id, **colour)


def _scene_stats(clip: vs.VideoNode) -> vs.VideoNode:
    """Frame i carries VsvfiSCDiff: mean |luma(i) - luma(i+1)| in [0, 1] on thumbnails."""
    sw = min(clip.width, SC_WIDTH)
    sh = max(2, round(clip.height * sw / clip.width))
    if clip.format.color_family == vs.RGB:
        small = core.resize.Bilinear(clip, sw, sh, format=vs.GRAYS, matrix_s="709", range_s="full")
    else:
        luma = core.std.ShufflePlanes(clip, 0, vs.GRAY)
        small = core.resize.Bilinear(luma, sw, sh, format=vs.GRAYS, range_in_s="full", range_s="full")
    return core.std.PlaneStats(small, small[1:] + small[-1], prop="VsvfiSC")


class _Interpolator:
    def __init__(self, clip, ratio, engine, scene_change, sc_threshold):
        self.clip, self.ratio, self.engine = clip, ratio, engine
        self.scene_change, self.sc_threshold = scene_change, sc_threshold
        self.n_src = clip.num_frames
        self.length = output_length(self.n_src, ratio)
        self.fps = clip.fps * ratio if clip.fps > 0 else Fraction(0)
        self.token = next(_tokens)
        fmt = clip.format
        self.net_format = vs.RGBH if fmt.id == vs.RGBH else vs.RGBS
        self.net_template = core.std.BlankClip(clip, format=self.net_format, length=1, keep=True)
        self.template = core.std.BlankClip(clip, length=self.length, fpsnum=self.fps.numerator,
                                           fpsden=self.fps.denominator, keep=True)

    def _remap(self, clip: vs.VideoNode, offset: int) -> vs.VideoNode:
        """Output-length clip whose frame n is ``clip[min(i(n) + offset, N - 1)]``."""
        last = self.n_src - 1
        tmpl = core.std.BlankClip(clip, length=self.length, keep=True)
        return core.std.FrameEval(tmpl, lambda n: clip[min(position(n, self.ratio)[0] + offset, last)])

    def build(self) -> vs.VideoNode:
        clip = self.clip
        prop_src = [self._remap(clip, 0), self._remap(clip, 1)]
        if self.scene_change:
            prop_src.append(self._remap(_scene_stats(clip), 0))
        decide = core.std.FrameEval(self.template, self._decide, prop_src=prop_src)
        last = self.n_src - 1

        def select(n):
            i, t = position(n, self.ratio)
            return clip[i] if t == 0 or i >= last else decide

        out = core.std.FrameEval(self.template, select)
        return core.std.ModifyFrame(out, out, self._finish)

    def _decide(self, n: int, f: list) -> vs.VideoNode:
        i, t = position(n, self.ratio)
        left, right = f[0].props, f[1].props
        if self.scene_change and (left.get("_SceneChangeNext") or right.get("_SceneChangePrev")
                                  or f[2].props["VsvfiSCDiff"] > self.sc_threshold):
            return core.std.SetFrameProps(self.clip[i], _VsvfiCut=self.token)
        colour = _colour(left, self.clip)
        a = _to_network(self.clip[i], colour)
        b = _to_network(self.clip[i + 1], _colour(right, self.clip))
        syn = core.std.ModifyFrame(self.net_template, [a, b], functools.partial(self._synthesize, out_n=n, t=t))
        return _from_network(syn, self.clip.format, colour)

    def _synthesize(self, n: int, f: list, out_n: int, t: Fraction) -> vs.VideoFrame:
        try:
            a = frame_array(f[0]).astype(np.float32, copy=False)
            b = frame_array(f[1]).astype(np.float32, copy=False)
            res = self.engine(a, b, float(t))
        except Exception as e:  # becomes a frame error naming the output frame
            raise vs.Error(f"vsvfi.Interpolate: output frame {out_n} (between source frames "
                           f"{position(out_n, self.ratio)[0]} and +1, t={float(t):.4f}): {type(e).__name__}: {e}") from e
        fout = f[0].copy()
        for p in range(3):
            np.copyto(np.asarray(fout[p]), res[p], casting="unsafe")
        fout.props["_VsvfiMade"] = self.token
        return fout

    def _finish(self, n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        i, t = position(n, self.ratio)
        fout = f.copy()
        p = fout.props
        # Markers carry this instance's token, so props of a chained upstream vsvfi clip
        # can never be mistaken for this one's decisions.
        made, cut = p.get("_VsvfiMade") == self.token, p.get("_VsvfiCut") == self.token
        _drop(p, ("_VsvfiMade", "_VsvfiCut"))
        if self.fps > 0:
            p["_DurationNum"], p["_DurationDen"] = self.fps.denominator, self.fps.numerator
        elif "_DurationNum" in p and "_DurationDen" in p and p["_DurationDen"] > 0:
            d = Fraction(p["_DurationNum"], p["_DurationDen"]) / self.ratio
            p["_DurationNum"], p["_DurationDen"] = d.numerator, d.denominator
        p[PROP_SYNTHESIZED] = int(made)
        p[PROP_SCENE_CHANGE] = int(cut)
        p[PROP_TIMESTEP] = float(t)
        p[PROP_SOURCE] = i
        if t:
            _drop(p, _STALE)
        return fout


def _parse(value, what: str, minimum: Fraction, strict: bool) -> Fraction:
    try:
        v = to_fraction(value, what)
    except ValueError as e:
        _fail(str(e))
    if v < minimum or (strict and v == minimum):
        _fail(f"{what} must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return v


def Interpolate(clip: vs.VideoNode, ratio=None, fps=None, model: str = "rife46", scene_change: bool = True,
                sc_threshold: float = SC_THRESHOLD, provider: str = "auto", device_index: int = 0) -> vs.VideoNode:
    """Raise a clip's frame rate by synthesizing intermediate frames with an optical-flow network.

    Output frame n sits at source position p = n / ratio (exact rational arithmetic);
    i = floor(p) and the timestep t = p - i. When t = 0 source frame i is returned
    unchanged (bit-exact, same props except durations). Otherwise the network synthesizes
    the frame between source frames i and i + 1 at timestep t; past the last source frame,
    and across a scene change, source frame i is repeated instead. Only source frames i and
    i + 1 are requested for output frame n, and the network runs only for requested frames.

    Args:
        clip: constant-format, constant-size clip with at least 2 frames. RGBS/RGBH go to
            the network as they are; YUV (8-16 bit, any subsampling), RGB24/RGB48 and GRAY
            are converted to RGBS with zimg (``core.resize``) using the frame props
            ``_Matrix``/``_Range``/``_ChromaLocation``; when absent: BT.709 for frames at
            least 1280x720 (width or height), else BT.601; limited range; left siting. Only
            synthesized frames are converted back to the input format.
        ratio: output fps / input fps: int, float, Fraction or "num/den" string, >= 1.
        fps: target frame rate (same types, > 0); needs a clip with a known (non-zero) fps.
            If both are given ``ratio`` wins (a warning is logged); if neither, ratio = 2.
        model: network; one of :data:`vsvfi.models.MODELS` ("rife46": RIFE v4.6,
            hzwer/Practical-RIFE, MIT weights). Its ONNX file is made by
            ``python -m vsvfi.export``.
        scene_change: detect scene changes and duplicate frame i across them instead of
            synthesizing; also honours ``_SceneChangeNext`` on frame i and
            ``_SceneChangePrev`` on frame i + 1. False turns all of this off.
        sc_threshold: mean absolute luma difference (0..1, on 320-pixel-wide thumbnails)
            above which a pair of source frames counts as a scene change. Default 0.12.
        provider: ONNX Runtime execution provider: "auto" (CUDA when a CUDA device is
            usable, else CPU), "cpu", "cuda" or "tensorrt".
        device_index: CUDA device for "cuda"/"tensorrt".

    Returns:
        A clip of floor(N * ratio) frames in the input's format at fps = input fps * ratio
        (0 for a variable-frame-rate input, whose per-frame durations are divided by ratio).
        Every frame has ``_DurationNum``/``_DurationDen`` and ``VsvfiSynthesized`` (0/1),
        ``VsvfiTimestep`` (float, t), ``VsvfiSourceFrame`` (int, i), ``VsvfiSceneChange``
        (0/1). Synthesized and duplicated frames drop ``_AbsoluteTime``,
        ``_SceneChangeNext`` and ``_SceneChangePrev`` of frame i.

    Raises:
        vapoursynth.Error: for a non-clip, fewer than 2 frames, variable format or size, a
            bad ratio/fps, fps on a variable-frame-rate clip, an unknown model, a missing or
            modified model file, or an unavailable provider.
    """
    if not isinstance(clip, vs.VideoNode):
        _fail(f"clip must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    if clip.format is None or clip.format.id == vs.NONE:
        _fail("the clip has a variable format; convert it to one format first (e.g. core.resize.Bicubic(clip, format=vs.YUV420P8))")
    if clip.width == 0 or clip.height == 0:
        _fail("the clip has a variable frame size; resize it to one size first")
    if clip.num_frames < 2:
        _fail(f"the clip needs at least 2 frames to interpolate between, it has {clip.num_frames}")
    if not isinstance(scene_change, (bool, int)):
        _fail(f"scene_change must be True or False, got {scene_change!r}")
    if isinstance(sc_threshold, bool) or not isinstance(sc_threshold, (int, float)) or not 0 <= sc_threshold <= 1:
        _fail(f"sc_threshold must be a number in [0, 1], got {sc_threshold!r}")
    if ratio is not None:
        if fps is not None:
            core.log_message(vs.MESSAGE_TYPE_WARNING,
                             f"vsvfi.Interpolate: both ratio={ratio!r} and fps={fps!r} given; using ratio")
        r = _parse(ratio, "ratio", Fraction(1), strict=False)
    elif fps is not None:
        target = _parse(fps, "fps", Fraction(0), strict=True)
        if clip.fps == 0:
            _fail("fps= needs a clip with a known frame rate, this one is variable (fps 0); "
                  "give ratio= instead, or set a rate with core.std.AssumeFPS")
        r = target / Fraction(clip.fps.numerator, clip.fps.denominator)
        if r < 1:
            _fail(f"fps={fps!r} is below the clip's {clip.fps} fps; vsvfi only raises the frame rate "
                  "(use core.std.SelectEvery or AssumeFPS to lower it)")
    else:
        r = Fraction(2)
    if model not in MODELS:
        _fail(f"unknown model {model!r}; known models: {', '.join(MODELS)}")
    try:
        engine = get_engine(model, provider, int(device_index))
    except (ModelFileError, ProviderError) as e:
        _fail(str(e))
    return _Interpolator(clip, r, engine, bool(scene_change), float(sc_threshold)).build()

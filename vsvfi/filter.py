"""The VapourSynth filter: :func:`Interpolate`."""

from __future__ import annotations

import functools
import itertools
import numbers
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import vapoursynth as vs

from . import protect
from .cache import OnceCache
from .engine import PROVIDERS, ProviderError, get_engine
from .models import MODELS, SCALES, ModelFileError
from .timing import output_length, position, to_fraction

core = vs.core

#: Default scene-change threshold: mean absolute luma difference (0..1) of a downscaled
#: pair of neighbouring source frames. Tuned on bikes.mp4 (docs/scene-change.md).
SC_THRESHOLD = 0.12
#: Width of the luma thumbnails the scene-change measure is computed on.
SC_WIDTH = 320

#: Two source frames whose planes differ by at most this much anywhere (fraction of the
#: sample range: one code value at 8 bits) count as a static pair: their intermediate frames
#: are exact copies of the earlier frame and no network runs.
STATIC_TOLERANCE = 1 / 255
#: Static-overlay protection (``protect_static``), on RGB float frames I0, I1. Per pixel,
#: d = the largest |I0 - I1| over the channels (0..1).
#: - static pixels: weight 1 for d <= PROTECT_LOW, 0 for d >= PROTECT_HIGH (smooth in
#:   between), after a 3x3 morphological opening that drops isolated pixels. The output
#:   there is the linear blend of I0 and I1 (where they agree, the blend is the answer).
#: - overlay pixels: exactly static (PROTECT_EXACT), high-contrast (3x3 range of I0 above
#:   PROTECT_CONTRAST) and with a mostly moving PROTECT_RADIUS neighbourhood (moving
#:   fraction above PROTECT_MOVING): subtitles and logos over moving content. They are
#:   painted out of both inputs before the network runs, so it cannot drag them along with
#:   the motion around them, and put back afterwards.
PROTECT_LOW, PROTECT_HIGH = 1 / 255, 3 / 255
PROTECT_EXACT = (0.5 / 255, 2 / 255)
PROTECT_CONTRAST = (0.2, 0.4)
PROTECT_MOVING = (0.3, 0.5)
PROTECT_RADIUS = 6

#: Per-clip caches: source frames converted to the network format (float32 RGB, 12 bytes
#: per pixel) and prepared pairs (RIFE: two padded frames plus a static mask, about 28
#: bytes per pixel; see vsvfi.gmfss for the two-stage model) are kept for
#: core.num_threads + CACHE_PAIRS_EXTRA pairs and one more source frame; least recently
#: used first out. At 1920x1080 with 8 threads that is about 0.3 GB of source frames and
#: 0.6 GB of RIFE pairs. A model with a large per-pair state (gmfss: flows, metric and
#: feature pyramids, ``vsvfi.gmfss.STATE_BYTES_PER_PIXEL`` ~ 230 bytes per pixel) keeps
#: only as many pairs as fit in CACHE_PAIR_BUDGET bytes, at least 2 (:func:`cache_pairs`).
CACHE_PAIRS_EXTRA = 2
CACHE_PAIR_BUDGET = 2 * 2**30

#: Early out-of-memory check (:func:`memory_needed`). Peak resident-memory growth of one
#: network run on ONNX Runtime's CPU provider, in bytes per (padded) pixel at ``scale=1``,
#: batch 1: the slope between runs at two sizes (512x512 -> 1024x1024, and 1024x1024 ->
#: 2048x2048 for rife46: 253 and 239 B/px), each in a fresh process after a 64x64 warm-up
#: run, from ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (docs/reliability.md). Models not
#: measured yet use the largest value.
NET_BYTES_PER_PIXEL = {"rife46": 250, "rife39": 530}
#: The same growth relative to ``scale=1`` (measured on rife46: 104, 109, 246, 800 B/px).
NET_SCALE_FACTOR = {0.25: 0.45, 0.5: 0.45, 1.0: 1.0, 2.0: 3.3}
#: Bytes per source pixel of the per-clip caches: a converted source frame (float32 RGB)
#: and a prepared pair (two padded frames plus masks); see CACHE_PAIRS_EXTRA.
CACHE_SOURCE_BYTES, CACHE_PAIR_BYTES = 12, 28
#: The network part of the estimate is multiplied by this (run-to-run and model-to-model spread).
MEMORY_SAFETY = 1.5
#: VapourSynth's limits: frame counts are C ints, frame-rate numerators/denominators int64.
MAX_FRAMES, MAX_FPS_TERM = 2**31 - 1, 2**63 - 1

#: Output frames (all vsvfi clips of the process together) between two calls of glibc's
#: ``malloc_trim(0)``. glibc keeps most of the frame buffers VapourSynth frees in its heap
#: instead of returning them, so without this the resident memory of a long render grows
#: by gigabytes while the memory in use stays flat (docs/reliability.md, "Memory").
TRIM_EVERY = 100

#: Frame props written on every output frame.
PROP_SYNTHESIZED = "VsvfiSynthesized"  # int: 1 if the network made this frame, else 0
PROP_TIMESTEP = "VsvfiTimestep"  # float in [0, 1): position between source frames i and i+1
PROP_SOURCE = "VsvfiSourceFrame"  # int: i, the source frame at or before this output frame
PROP_SCENE_CHANGE = "VsvfiSceneChange"  # int: 1 if a scene change made this a duplicate of i
PROP_STATIC = "VsvfiStatic"  # int: 1 if frames i and i+1 are equal (STATIC_TOLERANCE): a copy of i
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


def _network_clip(clip: vs.VideoNode) -> vs.VideoNode:
    """The whole clip in the network's format (RGBS; RGBH stays RGBH), one node for all
    frames so that each source frame is converted once and VapourSynth's frame cache serves
    every pair that uses it. Each frame is converted with its own colour props
    (:func:`_colour`: the props are resolved first, then zimg reads them)."""
    fmt = clip.format
    if fmt.color_family == vs.RGB:
        return clip if fmt.sample_type == vs.FLOAT else core.resize.Point(clip, format=vs.RGBS)

    def resolve(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        c = _colour(f.props, clip)
        fout = f.copy()
        _drop(fout.props, ("_ColorRange",))
        fout.props["_Matrix"] = c["matrix"]
        fout.props["_Range"] = 1 if c["range_s"] == "full" else 0  # zimg convention, as R81's resize reads it
        if "chromaloc" in c:
            fout.props["_ChromaLocation"] = c["chromaloc"]
        return fout

    return core.resize.Bicubic(core.std.ModifyFrame(clip, clip, resolve), format=vs.RGBS)


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


def _static_stats(clip: vs.VideoNode) -> vs.VideoNode:
    """Frame i carries VsvfiStaticP{plane}Max: max |clip[i] - clip[i+1]| of each plane,
    in the clip's sample units."""
    diff = core.std.Expr([clip, clip[1:] + clip[-1]], "x y - abs")
    for p in range(clip.format.num_planes):
        diff = core.std.PlaneStats(diff, plane=p, prop=f"VsvfiStaticP{p}")
    return diff


def _is_static(props, fmt: vs.VideoFormat) -> bool:
    top = 1.0 if fmt.sample_type == vs.FLOAT else (1 << fmt.bits_per_sample) - 1
    return all(props[f"VsvfiStaticP{p}Max"] <= STATIC_TOLERANCE * top + 1e-9 for p in range(fmt.num_planes))


@dataclass(frozen=True)
class _Pair:
    """What every output frame between source frames i and i + 1 re-uses: the engine's
    prepared pair (padded network inputs, or a two-stage model's flows and features), the
    two source frames (float32 (3, H, W), RGB in [0, 1]) for the static blend, and the
    static-pixel mask (float32 (H, W) in [0, 1]; None where no pixel is static)."""

    net: object
    img0: np.ndarray
    img1: np.ndarray
    static: np.ndarray | None


class _HeapTrimmer:
    """Calls glibc's ``malloc_trim(0)`` once every ``every`` calls (thread-safe; ctypes
    releases the GIL during the call); does nothing where libc is not glibc."""

    def __init__(self, every: int):
        import ctypes

        self.every = every
        self.calls = itertools.count(1)
        try:
            self.trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            self.trim = None

    def __call__(self) -> None:
        if self.trim is not None and next(self.calls) % self.every == 0:
            self.trim(0)


_trim_heap = _HeapTrimmer(TRIM_EVERY)


class _Interpolator:
    def __init__(self, clip, ratio, engine, scene_change, sc_threshold, scale, ensemble, protect):
        self.clip, self.ratio, self.engine = clip, ratio, engine
        self.scene_change, self.sc_threshold = scene_change, sc_threshold
        self.scale, self.ensemble, self.protect = scale, ensemble, protect
        self.n_src = clip.num_frames
        self.length = output_length(self.n_src, ratio)
        self.fps = clip.fps * ratio if clip.fps > 0 else Fraction(0)
        self.token = next(_tokens)
        fmt = clip.format
        self.net_format = vs.RGBH if fmt.id == vs.RGBH else vs.RGBS
        self.net_template = core.std.BlankClip(clip, format=self.net_format, length=1, keep=True)
        self.template = core.std.BlankClip(clip, length=self.length, fpsnum=self.fps.numerator,
                                           fpsden=self.fps.denominator, keep=True)
        # Bounded caches (CACHE_PAIRS_EXTRA): source frames and prepared pairs in flight on
        # core.num_threads threads, plus the next ones in output order.
        pairs = cache_pairs(engine.spec.name, core.num_threads, clip.width, clip.height)
        frames = core.num_threads + CACHE_PAIRS_EXTRA + 1
        self.sources = OnceCache(frames)
        self.pairs = OnceCache(pairs)
        # Engines that pad on the GPU: source frames already there, so a frame shared by two
        # pairs is uploaded once.
        self.uploads = OnceCache(frames) if getattr(engine, "device_pad", False) else None

    def _remap(self, clip: vs.VideoNode, offset: int) -> vs.VideoNode:
        """Output-length clip whose frame n is ``clip[min(i(n) + offset, N - 1)]``."""
        last = self.n_src - 1
        tmpl = core.std.BlankClip(clip, length=self.length, keep=True)
        return core.std.FrameEval(tmpl, lambda n: clip[min(position(n, self.ratio)[0] + offset, last)])

    def build(self) -> vs.VideoNode:
        clip = self.clip
        self.rgb = _network_clip(clip)
        prop_src = [self._remap(clip, 0), self._remap(clip, 1), self._remap(_static_stats(clip), 0)]
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
        if _is_static(f[2].props, self.clip.format):
            return core.std.SetFrameProps(self.clip[i], _VsvfiStatic=self.token)
        if self.scene_change and (left.get("_SceneChangeNext") or right.get("_SceneChangePrev")
                                  or f[3].props["VsvfiSCDiff"] > self.sc_threshold):
            return core.std.SetFrameProps(self.clip[i], _VsvfiCut=self.token)
        # Each output frame gets its own ModifyFrame node, so VapourSynth runs the callbacks
        # of several frames at once (a node runs one callback at a time); the network
        # releases the GIL. A pair that is already prepared needs no source frames at all.
        pair = self.pairs.peek(i)
        inputs = [self.net_template]
        if pair is None:
            inputs += [self.rgb[i], self.rgb[i + 1]]
        syn = core.std.ModifyFrame(self.net_template, inputs,
                                   functools.partial(self._synthesize, out_n=n, i=i, t=t, pair=pair))
        # Synthesized frames carry source frame i's props (_finish drops the stale ones).
        out = core.std.CopyFrameProps(_from_network(syn, self.clip.format, _colour(left, self.clip)), self.clip[i])
        return core.std.SetFrameProps(out, _VsvfiMade=self.token)

    def _source(self, i: int, frame: vs.VideoFrame) -> np.ndarray:
        """Source frame i in the network format, (3, H, W) float32 (float16 for RGBH),
        converted once."""
        return self.sources.get(i, lambda: frame_array(frame))  # RGBS: float32, RGBH: float16

    def _prepare(self, i: int, f: list) -> _Pair:
        a, b = self._source(i, f[1]), self._source(i + 1, f[2])
        static = None
        net_a, net_b = a, b
        if self.protect:
            a32, b32 = a.astype(np.float32, copy=False), b.astype(np.float32, copy=False)
            mask, overlay = protect.static_masks(a32, b32, PROTECT_LOW, PROTECT_HIGH, PROTECT_EXACT,
                                                 PROTECT_CONTRAST, PROTECT_MOVING, PROTECT_RADIUS)
            static = mask if mask.any() else None
            if overlay.any():
                net_a, net_b = protect.fill(a, overlay, PROTECT_RADIUS), protect.fill(b, overlay, PROTECT_RADIUS)
        if self.uploads is not None and net_a is a:  # the network sees the source frames as they are
            dev = [self.uploads.get(k, lambda x=x: self.engine.upload(x, self.scale)) for k, x in ((i, a), (i + 1, b))]
            return _Pair(self.engine.pair(*dev, a, b, self.scale), a, b, static)
        return _Pair(self.engine.prepare(net_a, net_b, self.scale), a, b, static)

    def _synthesize(self, n: int, f, out_n: int, i: int, t: Fraction, pair: _Pair | None) -> vs.VideoFrame:
        if isinstance(f, vs.VideoFrame):  # ModifyFrame passes a lone frame, not a list
            f = [f]
        try:
            if pair is None:
                pair = self.pairs.get(i, lambda: self._prepare(i, f))
            # dtype=None: an fp16 graph's output is converted once, by the copy into the frame
            res = self.engine.synthesize(pair.net, float(t), self.ensemble, dtype=None)
            if pair.static is not None:
                # static pixels: the inputs agree there, so their linear blend is the answer
                blend = pair.img0 * np.float32(1 - t) + pair.img1 * np.float32(t)
                res = res + (blend - res) * pair.static
        except Exception as e:  # becomes a frame error naming the output frame
            raise vs.Error(f"vsvfi.Interpolate: output frame {out_n} (between source frames "
                           f"{i} and {i + 1}, t={float(t):.4f}): {type(e).__name__}: {e}") from e
        fout = f[0].copy()
        for p in range(3):
            np.copyto(np.asarray(fout[p]), res[p], casting="unsafe")
        return fout

    def _finish(self, n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        _trim_heap()
        i, t = position(n, self.ratio)
        fout = f.copy()
        p = fout.props
        # Markers carry this instance's token, so props of a chained upstream vsvfi clip
        # can never be mistaken for this one's decisions.
        made, cut = p.get("_VsvfiMade") == self.token, p.get("_VsvfiCut") == self.token
        static = p.get("_VsvfiStatic") == self.token
        _drop(p, ("_VsvfiMade", "_VsvfiCut", "_VsvfiStatic"))
        if self.fps > 0:
            p["_DurationNum"], p["_DurationDen"] = self.fps.denominator, self.fps.numerator
        elif "_DurationNum" in p and "_DurationDen" in p and p["_DurationDen"] > 0:
            d = Fraction(p["_DurationNum"], p["_DurationDen"]) / self.ratio
            p["_DurationNum"], p["_DurationDen"] = d.numerator, d.denominator
        p[PROP_SYNTHESIZED] = int(made)
        p[PROP_SCENE_CHANGE] = int(cut)
        p[PROP_STATIC] = int(static)
        p[PROP_TIMESTEP] = float(t)
        p[PROP_SOURCE] = i
        if t:
            _drop(p, _STALE)
        return fout


def available_memory() -> int | None:
    """Bytes of memory this process can still get: MemAvailable from /proc/meminfo (else
    free pages from sysconf), capped by a cgroup v2 limit (memory.max - memory.current)
    when there is one. None when nothing can be read."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            avail = min(avail, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return avail


def memory_needed(width: int, height: int, model: str = "rife46", scale: float = 1.0, ensemble: bool = False,
                  threads: int = 1, network_on_host: bool = True) -> int:
    """Estimated peak host memory (bytes) of interpolating frames of ``width`` x ``height``
    pixels: one network run (:data:`NET_BYTES_PER_PIXEL` x :data:`NET_SCALE_FACTOR` x the
    pixels padded to the model's multiple, twice with ``ensemble``, times
    :data:`MEMORY_SAFETY`; only when the network runs on the host, i.e. the CPU provider)
    plus the full per-clip caches for ``threads`` VapourSynth threads
    (:data:`CACHE_PAIRS_EXTRA`; an upper bound, no safety factor). Only one network run
    is counted: with several threads several may run at once."""
    spec = MODELS[model]
    m = spec.pad_for(scale)
    padded = (-(-height // m) * m) * (-(-width // m) * m)
    total = 0.0
    if network_on_host:
        bpp = NET_BYTES_PER_PIXEL.get(model, max(NET_BYTES_PER_PIXEL.values()))
        total += (MEMORY_SAFETY * bpp * NET_SCALE_FACTOR.get(float(scale), max(NET_SCALE_FACTOR.values()))
                  * padded * (2 if ensemble else 1))
    pairs = cache_pairs(model, threads, width, height)
    total += width * height * ((threads + CACHE_PAIRS_EXTRA + 1) * CACHE_SOURCE_BYTES + pairs * pair_bytes(model))
    return int(total)


def pair_bytes(model: str) -> int:
    """Bytes per source pixel of one prepared pair of ``model`` in the pair cache."""
    if MODELS[model].graphs:  # two-stage: the flow graph's outputs are cached per pair
        from .gmfss import STATE_BYTES_PER_PIXEL
        return CACHE_PAIR_BYTES + int(STATE_BYTES_PER_PIXEL + 1)
    return CACHE_PAIR_BYTES


def cache_pairs(model: str, threads: int, width: int, height: int) -> int:
    """Capacity (pairs) of a clip's prepared-pair cache: ``threads + CACHE_PAIRS_EXTRA``,
    lowered to what fits in :data:`CACHE_PAIR_BUDGET` bytes, never below 2."""
    fit = CACHE_PAIR_BUDGET // max(1, pair_bytes(model) * width * height)
    return max(2, min(threads + CACHE_PAIRS_EXTRA, fit))


def _parse(value, what: str, minimum: Fraction, strict: bool) -> Fraction:
    try:
        v = to_fraction(value, what)
    except ValueError as e:
        _fail(str(e))
    if v < minimum or (strict and v == minimum):
        _fail(f"{what} must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return v


def Interpolate(clip: vs.VideoNode, ratio=None, fps=None, model: str = "rife46", scene_change: bool = True,
                sc_threshold: float = SC_THRESHOLD, provider: str = "auto", device_index: int = 0,
                scale: float = 1.0, ensemble: bool = False, protect_static: bool = True, num_streams: int = 1,
                ort_threads: int = 0, precision: str = "auto") -> vs.VideoNode:
    """Raise a clip's frame rate by synthesizing intermediate frames with an optical-flow network.

    Output frame n sits at source position p = n / ratio (exact rational arithmetic);
    i = floor(p) and the timestep t = p - i. When t = 0 source frame i is returned
    unchanged (bit-exact, same props except durations). Otherwise the network synthesizes
    the frame between source frames i and i + 1 at timestep t; past the last source frame,
    across a scene change, and between two equal source frames (every plane within
    :data:`STATIC_TOLERANCE`, a static pair) source frame i is repeated instead and no
    network runs. Only source frames i and i + 1 are requested for output frame n, and the
    network runs only for requested frames.

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
        model: network; one of :data:`vsvfi.models.MODELS`: "rife46" (RIFE v4.6, the
            default) or "rife39" (Practical-RIFE v3.9 with its Contextnet + Unet refinement:
            better on large motion, about 2.5x slower); both from hzwer/Practical-RIFE, MIT
            weights. ONNX files are made by ``python -m vsvfi.export``.
        scene_change: detect scene changes and duplicate frame i across them instead of
            synthesizing; also honours ``_SceneChangeNext`` on frame i and
            ``_SceneChangePrev`` on frame i + 1. False turns all of this off.
        sc_threshold: mean absolute luma difference (0..1, on 320-pixel-wide thumbnails)
            above which a pair of source frames counts as a scene change. Default 0.12.
        provider: ONNX Runtime execution provider: "auto" (CUDA when a CUDA device is
            usable, else CPU), "cpu", "cuda" or "tensorrt".
        device_index: CUDA device for "cuda"/"tensorrt".
        scale: resolution of the optical-flow estimation relative to the frame: 0.25, 0.5,
            1.0 (default) or 2.0. 0.5 suits 4K or very large motion and is faster; 2.0 can
            help small, fine motion at about 3x the flow cost. Warping and output stay at
            full resolution.
        ensemble: also interpolate the time-reversed pair (i + 1, i at 1 - t) and average
            the two frames; about 2x the cost (docs/quality.md has its measured effect).
        protect_static: keep what is the same in frames i and i + 1 (burnt-in subtitles,
            station logos, static HUDs over moving content) sharp and in place: pixels
            where the two inputs agree get their linear blend instead of the network's
            output (soft mask), and static high-contrast overlays surrounded by motion are
            painted out of the network's inputs so it cannot drag them along (see
            :data:`PROTECT_LOW` and the constants after it). Default True; on the sample
            clips it changes PSNR by less than 0.1 dB. The masks are computed once per pair
            of source frames (:mod:`vsvfi.protect`).
        num_streams: ONNX Runtime sessions used in turn by concurrently computed frames
            (1..16, default 1). On a GPU each session has its own CUDA stream; on the CPU one
            session already runs several frames at once (docs/benchmarks.md measures both).
            How many frames compute at once is VapourSynth's ``core.num_threads``.
        ort_threads: ONNX Runtime intra-op threads per session; 0 (default) = one per
            physical core. gmfss's fusion graph always runs on one thread on the CPU
            (:data:`vsvfi.gmfss.FUSION_CPU_THREADS`: ORT's threaded scatter-add loses updates).
        precision: "auto" (default: fp16 on CUDA/TensorRT, fp32 on the CPU, where fp16 is
            slower), "fp32" or "fp16". The fp16 graph is made from the exported one on first
            use (:func:`vsvfi.gpu.fp16_onnx`); it keeps the warp's coordinates and GridSample
            in float32 (docs/gpu.md). RGBH clips then go in as float16 without a cast.

    Returns:
        A clip of floor(N * ratio) frames in the input's format at fps = input fps * ratio
        (0 for a variable-frame-rate input, whose per-frame durations are divided by ratio).
        Every frame has ``_DurationNum``/``_DurationDen`` and ``VsvfiSynthesized`` (0/1),
        ``VsvfiTimestep`` (float, t), ``VsvfiSourceFrame`` (int, i), ``VsvfiSceneChange``
        (0/1), ``VsvfiStatic`` (0/1: a static pair's copy). Synthesized and duplicated frames drop ``_AbsoluteTime``,
        ``_SceneChangeNext`` and ``_SceneChangePrev`` of frame i.

    Raises:
        vapoursynth.Error: for a non-clip, fewer than 2 frames, variable format or size, a
            bad ratio/fps, fps on a variable-frame-rate clip, a scale not in 0.25/0.5/1/2, a
            non-bool ensemble/protect_static, num_streams outside 1..16, ort_threads outside
            0..1024, device_index outside 0..1023, an unknown precision, an unknown model, a missing, modified or
            unloadable model file, an unavailable provider, more than 2**31 - 1 output frames,
            or frames too large for the available memory (:func:`memory_needed` against
            :func:`available_memory`; the message gives both sizes).
    """
    if not isinstance(clip, vs.VideoNode):
        _fail(f"clip must be a vapoursynth.VideoNode, got {type(clip).__name__}")
    if clip.format is None or clip.format.id == vs.NONE:
        _fail("the clip has a variable format; convert it to one format first (e.g. core.resize.Bicubic(clip, format=vs.YUV420P8))")
    if clip.width == 0 or clip.height == 0:
        _fail("the clip has a variable frame size; resize it to one size first")
    if clip.num_frames < 2:
        _fail(f"the clip needs at least 2 frames to interpolate between, it has {clip.num_frames}")
    if isinstance(sc_threshold, bool) or not isinstance(sc_threshold, numbers.Real) or not 0 <= sc_threshold <= 1:
        _fail(f"sc_threshold must be a number in [0, 1], got {sc_threshold!r}")
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or float(scale) not in SCALES:
        _fail(f"scale must be one of {', '.join(map(str, SCALES))}, got {scale!r}")
    for name, value in (("ensemble", ensemble), ("protect_static", protect_static), ("scene_change", scene_change)):
        if not isinstance(value, (bool, int)) or value not in (0, 1):
            _fail(f"{name} must be True or False, got {value!r}")
    for name, value, lo, hi in (("num_streams", num_streams, 1, 16), ("ort_threads", ort_threads, 0, 1024),
                                ("device_index", device_index, 0, 1023)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= value <= hi:
            _fail(f"{name} must be an int in [{lo}, {hi}], got {value!r}")
    if not isinstance(precision, str) or precision not in ("auto", "fp32", "fp16"):
        _fail(f"precision must be 'auto', 'fp32' or 'fp16', got {precision!r}")
    if not isinstance(model, str) or model not in MODELS:
        _fail(f"unknown model {model!r}; known models: {', '.join(MODELS)}")
    if not isinstance(provider, str):
        _fail(f"unknown provider {provider!r}; use one of: auto, {', '.join(PROVIDERS)}")
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
    length = output_length(clip.num_frames, r)
    if length > MAX_FRAMES:
        _fail(f"ratio {r} gives {length} output frames, more than VapourSynth's limit of {MAX_FRAMES}; "
              "use a smaller ratio or fps")
    out_fps = Fraction(clip.fps.numerator, clip.fps.denominator) * r
    if max(out_fps.numerator, out_fps.denominator) > MAX_FPS_TERM:
        _fail(f"the output frame rate {clip.fps} x {r} = {out_fps} does not fit VapourSynth's 64-bit "
              "fps; give ratio or fps as a simpler fraction (e.g. ratio='5/2')")
    try:
        engine = get_engine(model, provider, int(device_index), int(ort_threads), int(num_streams), precision,
                            (clip.height, clip.width))
    except (ModelFileError, ProviderError) as e:
        _fail(str(e))
    except Exception as e:  # e.g. ONNX Runtime refusing a corrupt file: still a clear vs.Error
        raise vs.Error(f"vsvfi.Interpolate: could not load model {model!r} with provider {provider!r}: "
                       f"{type(e).__name__}: {e}; re-export it with 'python -m vsvfi.export {model} --force'") from e
    on_host = getattr(engine, "active_provider", PROVIDERS["cpu"]) == PROVIDERS["cpu"]
    need = memory_needed(clip.width, clip.height, model, float(scale), bool(ensemble), core.num_threads, on_host)
    avail = available_memory()
    if avail is not None and need > avail:
        hints = ["downscale the clip (half the width and height needs about 1/4)"]
        if on_host and float(scale) >= 1:
            hints.insert(0, "use scale=0.5")
        if ensemble:
            hints.insert(0, "turn ensemble off")
        _fail(f"frames of {clip.width}x{clip.height} need about {need / 2**30:.1f} GiB of memory "
              f"({'one network run on the CPU plus ' if on_host else ''}the frame caches for {core.num_threads} "
              f"threads), but only {avail / 2**30:.1f} GiB is available; {', or '.join(hints)}")
    return _Interpolator(clip, r, engine, bool(scene_change), float(sc_threshold), float(scale), bool(ensemble),
                         bool(protect_static)).build()

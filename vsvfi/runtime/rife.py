"""The RIFE engine: one network graph per output frame (rife46, rife39).

One :class:`RifeEngine` (one or more ``InferenceSession``) per model and settings is shared
by every VapourSynth worker thread: ``InferenceSession.run`` is thread-safe and releases the
GIL while it runs, so concurrent frame requests are served without extra locking.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

import numpy as np

from ..assets import sha256_of
from ..models import DISAGREEMENT_BLOCK, INPUT_NAMES, SCALES, ModelFileError, spec, verified_graphs
from .binding import BoundRunner, Gate, GraphRunner
from .graphs import copy_model, fix_dimensions, pad_batch, pad_model, static_model
from .providers import (PROVIDERS, provider_chain, provider_name, session_options, start_session,
                        tensorrt_provider_options, trt_profile)

PRECISIONS = ("auto", "fp32", "fp16")
#: The message for any other value (``str.format`` field: value).
PRECISION_MESSAGE = "precision must be 'auto', 'fp32' or 'fp16', got {value!r}"


class SettingError(ValueError):
    """An engine setting outside what the engine accepts."""


def check_precision(precision) -> None:
    """Raise SettingError unless ``precision`` is one of :data:`PRECISIONS`."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise SettingError(PRECISION_MESSAGE.format(value=precision))


@dataclass
class RifeEngine:
    """A RIFE model loaded into ONNX Runtime.

    Call it with two frames and a timestep: ``engine(img0, img1, t)``; or :meth:`prepare` a
    pair once and :meth:`synthesize` each of its frames. Raises ModelFileError (with the
    command that fixes it) for a missing, modified or mismatched graph file, ProviderError
    when the provider asked for cannot run, SettingError for an unknown precision.
    """

    model: str
    provider: str = "auto"
    device_index: int = 0
    threads: int = 0  # ORT intra-op threads; 0 = ORT's default (one per physical core)
    #: Sessions (each with its own threads, and its own CUDA stream on a GPU); concurrent
    #: frames use them in turn. One session already serves several threads at once.
    streams: int = 1
    #: "fp32", "fp16" (the graph converted by :func:`vsvfi.runtime.fp16.fp16_onnx`: float16
    #: inputs, weights and activations, the warp's coordinates and GridSample in float32) or
    #: "auto" (fp16 on CUDA/TensorRT, fp32 on the CPU, where fp16 is slower).
    precision: str = "auto"
    #: Frame height and width (pixels) for TensorRT's shape profiles; ignored otherwise.
    size: tuple[int, int] | None = None
    #: Pad and cast the frames of a pair on the session's device (a small Pad + Cast graph,
    #: :func:`vsvfi.runtime.graphs.pad_model`) after uploading them as they are, instead of on
    #: the host before the upload. None: on a GPU yes, on the CPU no (docs/gpu.md).
    device_pad: bool | None = None
    #: One session per padded frame size, batch and flow scale, with these fixed in the graph
    #: (:func:`vsvfi.runtime.graphs.static_model`): ONNX Runtime folds the shape arithmetic
    #: away, so about half the nodes run and none is left on the CPU between GPU kernels.
    #: None: on the CUDA provider yes, elsewhere no (sessions are made on first use of a size).
    static_shapes: bool | None = None
    #: Replay each static-shape session as a CUDA graph (the CUDA provider's
    #: ``enable_cuda_graph``; :class:`vsvfi.runtime.binding.GraphRunner`): one launch per
    #: frame instead of one per kernel. Needs static shapes. None: off. Where ONNX Runtime
    #: cannot capture the graph, that shape's sessions run without one (said on stderr).
    #: On the CPU provider the same fixed-buffer runner runs without a graph (for tests).
    cuda_graph: bool | None = None
    runs: int = field(default=0, init=False)  # network runs so far (for tests and stats)

    def __post_init__(self):
        self.spec = spec(self.model)
        check_precision(self.precision)
        path = verified_graphs(self.model)[self.model]
        ep = provider_name(self.provider, self.device_index)
        on_gpu = ep != PROVIDERS["cpu"]
        self.precision_used = ("fp16" if on_gpu else "fp32") if self.precision == "auto" else self.precision
        if self.precision_used == "fp16":
            from .fp16 import fp16_onnx
            path = fp16_onnx(self.model)
        trt = self._trt_options(path) if ep == PROVIDERS["tensorrt"] else None
        providers = provider_chain(ep, self.device_index, trt)
        # TensorRT has its own shape profiles
        self.static_shapes = (ep == PROVIDERS["cuda"]) if self.static_shapes is None else bool(self.static_shapes)
        self.static_shapes = self.static_shapes and ep != PROVIDERS["tensorrt"]
        if self.cuda_graph and not self.static_shapes:
            raise SettingError("cuda_graph needs static shapes (the CUDA provider, static_shapes None or True)")
        self.cuda_graph = bool(self.cuda_graph)
        self.cuda_graph_errors: list[str] = []  # shapes whose capture failed
        self._on_cuda = ep == PROVIDERS["cuda"]
        self._gate = Gate()  # a capture takes it exclusively (binding.Gate)
        self._path, self._providers, self._proto = path, providers, None
        self._static: dict = {}
        self._make_lock = threading.Lock()  # sessions made on first use (static shapes, padding)
        # With static shapes the sessions made here only check the file and the provider.
        count = 1 if self.static_shapes else max(1, self.streams)
        self.sessions = [start_session(path, session_options(self.threads), providers, self.model)
                         for _ in range(count)]
        # On a GPU, IO binding: inputs go to the device once per run (a prepared pair's
        # frames once per pair), outputs come back once.
        self.device_pad = on_gpu if self.device_pad is None else bool(self.device_pad)
        self.runners = None
        if on_gpu or self.device_pad:
            self.runners = [BoundRunner(s, cpu_inputs=("scale",)) for s in self.sessions]
        self._pad_runners: dict = {}
        self.input_dtype = np.float16 if self.sessions[0].get_inputs()[0].type == "tensor(float16)" else np.float32
        self.session = self.sessions[0]
        self._turn = itertools.count()
        self._check_inputs(path)
        self.active_provider = self.session.get_providers()[0]
        self._lock = threading.Lock()

    def _static_runners(self, batch: int, height: int, width: int, scale: float) -> list:
        """The ``streams`` sessions (runners on a GPU) for one padded shape and flow scale,
        made on first use (:attr:`static_shapes`)."""
        key = (batch, height, width, float(scale))
        with self._make_lock:
            got = self._static.get(key)
            if got is None:
                import onnx

                if self._proto is None:
                    self._proto = onnx.load(str(self._path))
                data = static_model(self._proto, scale).SerializeToString()
                got = self._graph_runners(data, key) if self.cuda_graph else None
                if got is None:
                    got = []
                    for _ in range(max(1, self.streams)):
                        sess = start_session(data, self._static_options(key), self._providers, self.model)
                        got.append(BoundRunner(sess) if self.runners else sess)
                self._static[key] = got
            return got

    def _static_options(self, key):
        opts = session_options(self.threads)
        fix_dimensions(opts, *key[:3])
        return opts

    def _graph_runners(self, data: bytes, key) -> list | None:
        """``streams`` :class:`GraphRunner` for one shape, warmed up (on CUDA: captured) with
        the rest of the engine's device work held off; None, with the reason in
        :attr:`cuda_graph_errors` and on stderr, where ONNX Runtime refuses."""
        import sys

        batch, height, width, _ = key
        providers = self._providers
        if self._on_cuda:
            (name, opts), *rest = providers
            providers = [(name, dict(opts, enable_cuda_graph="1")), *rest]
        shapes = {"img0": (batch, 3, height, width), "img1": (batch, 3, height, width), "timestep": (batch, 1, 1, 1)}
        copier = self._copy_runner()
        try:
            with self._gate.exclusive():
                got = [GraphRunner(start_session(data, self._static_options(key), providers, self.model), shapes,
                                   copier) for _ in range(max(1, self.streams))]
                zeros = {k: np.zeros(v, self.input_dtype) for k, v in shapes.items()}
                for runner in got:
                    for _ in range(3):  # ORT runs a session normally before it captures
                        runner.run(zeros)
            return got
        except Exception as exc:  # noqa: BLE001 - any refusal: run without a graph
            msg = f"{batch}x{height}x{width} scale {key[3]}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            self.cuda_graph_errors.append(msg)
            print(f"vsvfi: no CUDA graph for {self.model} {msg}; running without one", file=sys.stderr)
            return None

    def _check_inputs(self, path) -> None:
        """The file itself (not only its manifest entry) must have the graph inputs
        :data:`INPUT_NAMES` with img0/img1 of shape [batch, 3, height, width], batch, height
        and width dynamic; else ModelFileError naming the fix (before any frame runs)."""
        got = {i.name: i.shape for i in self.session.get_inputs()}
        fix = f"fetch it again with 'vsvfi models fetch --model {self.model} --force'"
        if tuple(got) != INPUT_NAMES:
            raise ModelFileError(f"{path} has inputs {list(got)}, expected {list(INPUT_NAMES)}: {fix}")
        for name in ("img0", "img1"):
            shape = got[name]
            if len(shape) != 4 or shape[1] != 3 or any(isinstance(d, int) for d in (shape[0], shape[2], shape[3])):
                raise ModelFileError(f"{path}: input {name} has shape {shape}, expected [batch, 3, height, width] "
                                     f"with dynamic batch, height and width: {fix}")

    def _trt_options(self, path) -> dict:
        """TensorRT EP options: engine/timing caches keyed by the graph's sha256 and a shape
        profile covering the padded frame at every flow scale, batch 1-2 (ensemble)."""
        key = sha256_of(path)[:16]
        if self.size is None:
            return tensorrt_provider_options(self.device_index, engine_key=key)
        h, w = self.size
        mults = [self.spec.pad_for(s) for s in (*SCALES, SCALES[0] / 2)]  # a rerun may halve the smallest scale
        padded = lambda m: (h + -h % m, w + -w % m)  # noqa: E731
        shapes = trt_profile(*padded(self.spec.pad_for(1.0)), smallest=padded(min(mults)), largest=padded(max(mults)))
        return tensorrt_provider_options(self.device_index, None, *shapes, engine_key=key,
                                         inputs=self.spec.profile_inputs)

    def _pad_runner(self, dtype):
        """The runner of the device-side Pad + Cast graph from ``dtype`` frames to the
        graph's input type, made on first use."""
        key = np.dtype(dtype).name
        with self._make_lock:
            runner = self._pad_runners.get(key)
            if runner is None:
                runner = self._pad_runners[key] = self._small_runner(pad_model(key, np.dtype(self.input_dtype).name))
            return runner

    def _copy_runner(self):
        """The runner of the device copy graph (:func:`copy_model`) of the graph's input type,
        made on first use; called with :attr:`_make_lock` held."""
        runner = self._pad_runners.get("copy")
        if runner is None:
            runner = self._pad_runners["copy"] = self._small_runner(copy_model(np.dtype(self.input_dtype).name))
        return runner

    def _small_runner(self, model) -> BoundRunner:
        sess = start_session(model.SerializeToString(), session_options(self.threads), self._providers, self.model)
        return BoundRunner(sess, cpu_inputs=("pads",))

    def _pad_on_device(self, img: np.ndarray, multiple: int):
        """``img`` (3, H, W) float32 or float16 uploaded as it is, then padded (edge) and
        cast on the device: an OrtValue (1, 3, H', W') of the graph's input type, equal to
        what :func:`pad_batch` makes on the host."""
        x = np.ascontiguousarray(img)
        if x.dtype not in (np.float32, np.float16):
            x = x.astype(np.float32)
        _, h, w = x.shape
        pads = np.array([0, 0, 0, 0, 0, 0, -h % multiple, -w % multiple], np.int64)
        runner = self._pad_runner(x.dtype)
        with self._gate.shared():
            return runner.run({"x": x[None], "pads": pads}, to_host=False)[0]

    def _run(self, a, b, t: np.ndarray, scale: float) -> dict[str, np.ndarray]:
        """One session run on a padded batch (numpy arrays, or OrtValues on the device);
        returns {output name: array}: "frame" in the graph's output type, "large_motion"
        (bool flags, all False for a graph without them) and the graph's other outputs."""
        feed = {"img0": a, "img1": b, "timestep": t.astype(self.input_dtype), "scale": np.array([scale], np.float32)}
        if self.static_shapes:
            shape = a.shape() if callable(a.shape) else a.shape  # OrtValue.shape is a method
            targets = self._static_runners(shape[0], shape[2], shape[3], scale)
            del feed["scale"]
        else:
            targets = self.runners or self.sessions
        target = targets[next(self._turn) % len(targets)]
        with self._gate.shared():
            res = target.run(None, feed) if hasattr(target, "get_providers") else target.run(feed)
        with self._lock:
            self.runs += 1
        got = dict(zip(self.spec.outputs, res))
        got["large_motion"] = got["large_motion"].astype(bool) if "large_motion" in got else np.zeros(len(res[0]), bool)
        return got

    def prepare(self, img0: np.ndarray, img1: np.ndarray, scale: float = 1.0) -> "RifePair":
        """The per-pair part of the work, for callers that cache it (several output frames
        between the same two source frames share it): replicate-padding both frames to
        ``spec.pad_for(scale)`` and conversion to the graph's input type (float16 for an
        fp16 graph), on the host, or with :attr:`device_pad` on the device after an upload
        of the frames as they are. img0, img1: float32 or float16 (3, H, W) RGB in [0, 1]."""
        if self.device_pad:
            return self.pair(self.upload(img0, scale), self.upload(img1, scale), img0, img1, scale)
        _, h, w = img0.shape
        m = self.spec.pad_for(scale)
        a, b = (pad_batch(x, m, self.spec.pad_mode, self.input_dtype) for x in (img0, img1))
        dev = None
        if self.runners:
            with self._gate.shared():
                dev = (self.runners[0].upload(a), self.runners[0].upload(b))
        return RifePair(h, w, scale, m, self.input_dtype, None, dev, (a, b), self.spec.pad_mode)

    def upload(self, img: np.ndarray, scale: float = 1.0):
        """One frame (float32 or float16 (3, H, W) RGB in [0, 1]) on the device, padded to
        ``spec.pad_for(scale)`` and in the graph's input type: an OrtValue for :meth:`pair`.
        A caller that keeps these per source frame uploads each frame once, not once for
        each of its two pairs. Only for engines with :attr:`device_pad`."""
        return self._pad_on_device(img, self.spec.pad_for(scale))

    def pair(self, dev0, dev1, img0: np.ndarray, img1: np.ndarray, scale: float = 1.0) -> "RifePair":
        """A prepared pair from two :meth:`upload` results and the frames they came from
        (kept for the host copies that ensemble and rife39's rerun need)."""
        _, h, w = img0.shape
        return RifePair(h, w, scale, self.spec.pad_for(scale), self.input_dtype, (img0, img1), (dev0, dev1),
                        mode=self.spec.pad_mode)

    def synthesize(self, pair: "RifePair", timestep: float, ensemble: bool = False,
                   dtype=np.float32, scale: float | None = None, misfit: bool = False):
        """The frame at ``timestep`` (float in (0, 1)) of a pair from :meth:`prepare`:
        (3, H, W) of ``dtype`` (float32), or with ``dtype=None`` of the graph's output type
        (float16 for an fp16 graph; saves a pass over the frame when the caller converts
        anyway). See :meth:`__call__`. ``scale``: run at this flow scale instead of the
        pair's (the pair's padding must be a multiple of ``spec.pad_for(scale)``).
        ``misfit=True`` (graphs with a ``disagreement`` output) returns (frame, misfit): the
        mean of the disagreement blocks that overlap the frame (float, 0..1)."""
        scale = pair.scale if scale is None else scale
        if pair.multiple % self.spec.pad_for(scale):
            raise ValueError(f"a pair padded to multiples of {pair.multiple} cannot run at scale {scale}")
        t = np.full((1, 1, 1, 1), timestep, np.float32)
        if ensemble:
            a, b = pair.img0, pair.img1
            a, b, t = np.concatenate((a, b)), np.concatenate((b, a)), np.concatenate((t, 1 - t))
        elif pair.device is not None:
            a, b = pair.device
        else:
            a, b = pair.img0, pair.img1
        got = self._run(a, b, t, scale)
        out, again = got["frame"], got["large_motion"]
        if again.any():
            a, b = (pair.img0, pair.img1) if not ensemble else (a, b)
            out = out.copy()
            out[again] = self._run(a[again], b[again], t[again], scale / 2)["frame"]
        frame = out.mean(0, dtype=np.float32) if ensemble else out[0]
        frame = frame[:, :pair.height, :pair.width]
        frame = frame if dtype is None else frame.astype(dtype, copy=False)
        if not misfit:
            return frame
        if "disagreement" not in got:
            raise ValueError(f"{self.model} has no disagreement output")
        blocks = got["disagreement"][:, 0, :-(-pair.height // DISAGREEMENT_BLOCK), :-(-pair.width // DISAGREEMENT_BLOCK)]
        return frame, float(blocks.mean(dtype=np.float64))

    def __call__(self, img0: np.ndarray, img1: np.ndarray, timestep: float, scale: float = 1.0,
                 ensemble: bool = False) -> np.ndarray:
        """Synthesize the frame at ``timestep`` between two frames.

        img0, img1: float32 (3, H, W) RGB in [0, 1], any H, W >= 1 (replicate-padded to
            ``spec.pad_for(scale)`` inside, cropped back on return).
        timestep: float in (0, 1); 0 is img0, 1 is img1.
        scale: optical-flow resolution relative to the frame, one of
            :data:`vsvfi.models.SCALES`.
        ensemble: also run the time-reversed pass (img1, img0, 1 - timestep) in the same
            batch and average the two frames (about 2x the cost).
        Returns float32 (3, H, W).

        Models with a ``large_motion`` output (rife39) run an item again at ``scale / 2``
        when the graph reports large motion, as Practical-RIFE v3.9 does.
        """
        return self.synthesize(self.prepare(img0, img1, scale), timestep, ensemble)


@dataclass
class RifePair:
    """A prepared pair: the size (pixels) to crop the result back to, the flow scale, the
    padding multiple and input type, and the two frames replicate-padded to (1, 3, H', W'):
    on the device (``device``, OrtValues) and/or on the host (``img0``/``img1``). Host copies
    of a device-padded pair are made from ``sources`` (the frames as given) on first use
    (ensemble, rife39's large-motion rerun)."""

    height: int
    width: int
    scale: float
    multiple: int
    dtype: type
    sources: tuple | None = None
    device: tuple | None = None
    host: tuple | None = None
    mode: str = "edge"  # numpy pad mode (ModelSpec.pad_mode)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _host_pair(self) -> tuple:
        with self._lock:
            if self.host is None:
                self.host = tuple(pad_batch(x, self.multiple, self.mode, self.dtype) for x in self.sources)
            return self.host

    @property
    def img0(self) -> np.ndarray:
        return self._host_pair()[0]

    @property
    def img1(self) -> np.ndarray:
        return self._host_pair()[1]

    @property
    def nbytes(self) -> int:
        """Host bytes held by the pair."""
        held = (self.host or ()) + (self.sources or ())
        return sum(x.nbytes for x in held)

"""ONNX Runtime inference for the interpolation networks.

One :class:`Engine` (one ``InferenceSession``) per model and provider choice is shared by
every VapourSynth worker thread: ``InferenceSession.run`` is thread-safe and releases the
GIL while it runs, so concurrent frame requests are served without extra locking.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import sys
import threading
from dataclasses import dataclass, field

import numpy as np

from .models import INPUT_NAMES, MODELS, SCALES, ModelFileError, verified_onnx

#: Names accepted for ``provider``; "auto" picks CUDA when a CUDA device is usable, else CPU.
#: TensorRT is only used when asked for.
PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


class ProviderError(RuntimeError):
    pass


def cuda_device_count() -> int:
    """Number of CUDA devices the driver reports; 0 without a driver. Loads no CUDA
    runtime, so it is cheap and silent on machines without a GPU."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


def preload_cuda_libraries() -> None:
    """Load CUDA and cuDNN from the nvidia-* wheels beside onnxruntime-gpu, where there are
    any (``onnxruntime.preload_dlls``). That function reports what it could not find with
    ``print``: it goes to stderr here, since stdout may be the video stream (``vspipe -c y4m
    script.vpy -``)."""
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):
        with contextlib.redirect_stdout(sys.stderr):
            ort.preload_dlls()


def resolve_providers(provider: str, device_index: int = 0, trt_options: dict | None = None) -> list:
    """Map ``provider`` ("auto", "cpu", "cuda", "tensorrt") to an ORT provider list: the CPU
    EP alone, or CUDA (options from :func:`vsvfi.gpu.cuda_provider_options`) then CPU, with
    TensorRT (``trt_options``, see :func:`vsvfi.gpu.tensorrt_provider_options`) in front
    for "tensorrt".

    Raises ProviderError when the name is unknown or the provider asked for is not usable
    here (its ORT build lacks it, or there is no CUDA device).
    """
    import onnxruntime as ort

    if provider not in ("auto", *PROVIDERS):
        raise ProviderError(f"unknown provider {provider!r}; use one of: auto, {', '.join(PROVIDERS)}")
    available = set(ort.get_available_providers())
    has_gpu = cuda_device_count() > device_index
    if provider == "auto":
        provider = "cuda" if has_gpu and PROVIDERS["cuda"] in available else "cpu"
    ep = PROVIDERS[provider]
    if ep not in available or (provider != "cpu" and not has_gpu):
        why = "this onnxruntime build lacks it" if ep not in available else f"no CUDA device {device_index} was found"
        raise ProviderError(f"provider {provider!r} was asked for but is not available ({why}); "
                            f"available here: cpu{', cuda' if has_gpu else ''}. Use provider='auto' or 'cpu'.")
    if provider == "cpu":
        return [PROVIDERS["cpu"]]
    preload_cuda_libraries()
    from .gpu import cuda_provider_options, tensorrt_provider_options

    chain = [(PROVIDERS["cuda"], cuda_provider_options(device_index)), PROVIDERS["cpu"]]
    if provider == "tensorrt":
        chain.insert(0, (ep, trt_options or tensorrt_provider_options(device_index)))
    return chain


def pad_batch(img: np.ndarray, multiple: int, mode: str = "edge", dtype=np.float32) -> np.ndarray:
    """``img`` (C, H, W) as a contiguous (1, C, H', W') array of ``dtype``, padded at the
    bottom and right (numpy pad ``mode``) to H', W' multiples of ``multiple`` pixels."""
    _, h, w = img.shape
    ph, pw = -h % multiple, -w % multiple
    out = np.pad(img[None], ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode) if ph or pw else img[None]
    return np.ascontiguousarray(out, dtype)


@dataclass
class Engine:
    """A model loaded into ONNX Runtime.

    Call it with two frames and a timestep: ``engine(img0, img1, t)``.
    """

    model: str
    provider: str = "auto"
    device_index: int = 0
    threads: int = 0  # ORT intra-op threads; 0 = ORT's default (one per physical core)
    #: Sessions (each with its own threads, and its own CUDA stream on a GPU); concurrent
    #: frames use them in turn. One session already serves several threads at once.
    streams: int = 1
    #: "fp32", "fp16" (the graph converted by :func:`vsvfi.gpu.fp16_onnx`: float16 inputs,
    #: weights and activations, the warp's coordinates and GridSample in float32) or "auto"
    #: (fp16 on CUDA/TensorRT, fp32 on the CPU, where fp16 is slower).
    precision: str = "auto"
    #: Frame height and width (pixels) for TensorRT's shape profiles; ignored otherwise.
    size: tuple[int, int] | None = None
    #: Pad and cast the frames of a pair on the session's device (a small Pad + Cast graph,
    #: :func:`vsvfi.gpu.pad_model`) after uploading them as they are, instead of on the host
    #: before the upload. None: on a GPU yes, on the CPU no (docs/gpu.md).
    device_pad: bool | None = None
    #: One session per padded frame size, batch and flow scale, with these fixed in the graph
    #: (:func:`vsvfi.gpu.static_model`): ONNX Runtime folds the shape arithmetic away, so
    #: about half the nodes run and none is left on the CPU between GPU kernels. None: on
    #: the CUDA provider yes, elsewhere no (sessions are made on first use of a size).
    static_shapes: bool | None = None
    runs: int = field(default=0, init=False)  # network runs so far (for tests and stats)

    def __post_init__(self):
        import onnxruntime as ort

        self.spec = MODELS[self.model]
        path, entry = verified_onnx(self.model)
        names = [i["name"] for i in entry["inputs"]]
        outputs = [o["name"] for o in entry["outputs"]]
        if tuple(names) != INPUT_NAMES or tuple(outputs) != self.spec.outputs:
            raise ModelFileError(f"{path} has inputs {names} and outputs {outputs}, expected {list(INPUT_NAMES)} "
                                 f"and {list(self.spec.outputs)}: export it again with "
                                 f"'python -m vsvfi.export {self.model} --force'")
        opts = self._options()
        providers = resolve_providers(self.provider, self.device_index)
        on_gpu = isinstance(providers[0], tuple)
        if self.precision not in ("auto", "fp32", "fp16"):
            raise ValueError(f"precision must be 'auto', 'fp32' or 'fp16', got {self.precision!r}")
        self.precision_used = ("fp16" if on_gpu else "fp32") if self.precision == "auto" else self.precision
        if self.precision_used == "fp16":
            from .gpu import fp16_onnx
            path = fp16_onnx(self.model)
        if providers[0][0] == PROVIDERS["tensorrt"]:
            providers = resolve_providers(self.provider, self.device_index, self._trt_options(path))
        on_cuda = providers[0][0] == PROVIDERS["cuda"]
        self.static_shapes = on_cuda if self.static_shapes is None else bool(self.static_shapes)
        if self.static_shapes and providers[0][0] == PROVIDERS["tensorrt"]:
            self.static_shapes = False  # TensorRT has its own shape profiles
        self._path, self._providers, self._proto = path, providers, None
        self._static: dict = {}
        self._make_lock = threading.Lock()  # sessions made on first use (static shapes, padding)
        # With static shapes the sessions made here only check the file and the provider.
        count = 1 if self.static_shapes else max(1, self.streams)
        self.sessions = [ort.InferenceSession(str(path), sess_options=opts, providers=providers)
                         for _ in range(count)]
        # On a GPU, IO binding: inputs go to the device once per run (a prepared pair's
        # frames once per pair), outputs come back once.
        self.runners = None
        self.device_pad = on_gpu if self.device_pad is None else bool(self.device_pad)
        if on_gpu or self.device_pad:
            from .gpu import BoundRunner
            self.runners = [BoundRunner(s, cpu_inputs=("scale",)) for s in self.sessions]
        self._pad_runners: dict = {}
        self.input_dtype = np.float16 if self.sessions[0].get_inputs()[0].type == "tensor(float16)" else np.float32
        self.session = self.sessions[0]
        self._turn = itertools.count()
        self._check_inputs(path)
        wanted = providers[0][0] if isinstance(providers[0], tuple) else providers[0]
        if wanted not in self.session.get_providers():
            raise ProviderError(f"ONNX Runtime could not start {wanted} for {self.model} "
                                f"(it runs on {self.session.get_providers()}); use provider='cpu'")
        self.active_provider = self.session.get_providers()[0]
        self._lock = threading.Lock()

    def _options(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only: keep stdout/stderr clean for vspipe
        opts.intra_op_num_threads = self.threads
        # Idle spinning threads would steal the cores VapourSynth and the decoder need.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        # Measured in docs/cpu-profile.md: all graph optimisations (with the NCHWc layout) and
        # sequential execution are fastest; the parallel executor, fewer threads, DAZ,
        # no arena / memory pattern and a pre-optimised model file gain nothing.
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        return opts

    def _static_runners(self, batch: int, height: int, width: int, scale: float) -> list:
        """The ``streams`` sessions (runners on a GPU) for one padded shape and flow scale,
        made on first use (:attr:`static_shapes`)."""
        key = (batch, height, width, float(scale))
        with self._make_lock:
            got = self._static.get(key)
            if got is None:
                import onnx
                import onnxruntime as ort

                from .gpu import BoundRunner, fix_dimensions, static_model
                if self._proto is None:
                    self._proto = onnx.load(str(self._path))
                data = static_model(self._proto, scale).SerializeToString()
                got = []
                for _ in range(max(1, self.streams)):
                    opts = self._options()
                    fix_dimensions(opts, batch, height, width)
                    sess = ort.InferenceSession(data, sess_options=opts, providers=self._providers)
                    got.append(BoundRunner(sess) if self.runners else sess)
                self._static[key] = got
            return got

    def _check_inputs(self, path) -> None:
        """The file itself (not only its manifest entry) must have the graph inputs
        :data:`INPUT_NAMES` with img0/img1 of shape [batch, 3, height, width], batch, height
        and width dynamic; else ModelFileError naming the fix (before any frame runs)."""
        got = {i.name: i.shape for i in self.session.get_inputs()}
        fix = f"export it again with 'python -m vsvfi.export {self.model} --force'"
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
        from .gpu import tensorrt_provider_options
        from .assets import sha256_of

        if self.size is None:
            return tensorrt_provider_options(self.device_index, engine_key=sha256_of(path)[:16])
        h, w = self.size
        mults = [self.spec.pad_for(s) for s in (*SCALES, SCALES[0] / 2)]
        padded = lambda m: (h + -h % m, w + -w % m)  # noqa: E731
        lo, hi = padded(min(mults)), padded(max(mults))
        return tensorrt_provider_options(self.device_index, None, (1, *lo), (1, *padded(self.spec.pad_for(1.0))),
                                         (2, *hi), engine_key=sha256_of(path)[:16])

    def _pad_runner(self, dtype):
        """The runner of the device-side Pad + Cast graph from ``dtype`` frames to the
        graph's input type, made on first use."""
        key = np.dtype(dtype).name
        with self._make_lock:
            runner = self._pad_runners.get(key)
            if runner is None:
                import onnxruntime as ort

                from .gpu import BoundRunner, pad_model
                model = pad_model(key, np.dtype(self.input_dtype).name)
                sess = ort.InferenceSession(model.SerializeToString(), sess_options=self._options(),
                                            providers=self._providers)
                runner = self._pad_runners[key] = BoundRunner(sess, cpu_inputs=("pads",))
            return runner

    def _pad_on_device(self, img: np.ndarray, multiple: int):
        """``img`` (3, H, W) float32 or float16 uploaded as it is, then padded (edge) and
        cast on the device: an OrtValue (1, 3, H', W') of the graph's input type, equal to
        what :func:`pad_batch` makes on the host."""
        x = np.ascontiguousarray(img)
        if x.dtype not in (np.float32, np.float16):
            x = x.astype(np.float32)
        _, h, w = x.shape
        pads = np.array([0, 0, 0, 0, 0, 0, -h % multiple, -w % multiple], np.int64)
        return self._pad_runner(x.dtype).run({"x": x[None], "pads": pads}, to_host=False)[0]

    def _run(self, a, b, t: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """One session run on a padded batch (numpy arrays, or OrtValues on the device);
        returns (frames in the graph's output type, large-motion flags)."""
        feed = {"img0": a, "img1": b, "timestep": t.astype(self.input_dtype), "scale": np.array([scale], np.float32)}
        if self.static_shapes:
            shape = a.shape() if callable(a.shape) else a.shape  # OrtValue.shape is a method
            targets = self._static_runners(shape[0], shape[2], shape[3], scale)
            del feed["scale"]
        else:
            targets = self.runners or self.sessions
        k = next(self._turn) % len(targets)
        target = targets[k]
        res = target.run(None, feed) if hasattr(target, "get_providers") else target.run(feed)
        with self._lock:
            self.runs += 1
        flags = res[1].astype(bool) if len(res) > 1 else np.zeros(len(res[0]), bool)
        return res[0], flags

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
        a, b = (pad_batch(x, m, "edge", self.input_dtype) for x in (img0, img1))
        dev = None
        if self.runners:
            dev = (self.runners[0].upload(a), self.runners[0].upload(b))
        return RifePair(h, w, scale, m, self.input_dtype, None, dev, (a, b))

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
        return RifePair(h, w, scale, self.spec.pad_for(scale), self.input_dtype, (img0, img1), (dev0, dev1))

    def synthesize(self, pair: "RifePair", timestep: float, ensemble: bool = False,
                   dtype=np.float32) -> np.ndarray:
        """The frame at ``timestep`` (float in (0, 1)) of a pair from :meth:`prepare`:
        (3, H, W) of ``dtype`` (float32), or with ``dtype=None`` of the graph's output type
        (float16 for an fp16 graph; saves a pass over the frame when the caller converts
        anyway). See :meth:`__call__`."""
        t = np.full((1, 1, 1, 1), timestep, np.float32)
        if ensemble:
            a, b = pair.img0, pair.img1
            a, b, t = np.concatenate((a, b)), np.concatenate((b, a)), np.concatenate((t, 1 - t))
        elif pair.device is not None:
            a, b = pair.device
        else:
            a, b = pair.img0, pair.img1
        out, again = self._run(a, b, t, pair.scale)
        if again.any():
            a, b = (pair.img0, pair.img1) if not ensemble else (a, b)
            out = out.copy()
            out[again] = self._run(a[again], b[again], t[again], pair.scale / 2)[0]
        frame = out.mean(0, dtype=np.float32) if ensemble else out[0]
        frame = frame[:, :pair.height, :pair.width]
        return frame if dtype is None else frame.astype(dtype, copy=False)

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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _host_pair(self) -> tuple:
        with self._lock:
            if self.host is None:
                self.host = tuple(pad_batch(x, self.multiple, "edge", self.dtype) for x in self.sources)
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


_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(model: str, provider: str = "auto", device_index: int = 0, threads: int = 0,
               streams: int = 1, precision: str = "auto", size: tuple[int, int] | None = None,
               device_pad: bool | None = None, static_shapes: bool | None = None):
    """The shared engine for these settings, created on first use: an :class:`Engine`, or a
    :class:`vsvfi.gmfss.GMFSSEngine` for a two-stage model. Both have ``prepare(img0, img1,
    scale)``, ``synthesize(prepared, timestep, ensemble)`` and ``__call__``."""
    size = size if provider == "tensorrt" else None  # only TensorRT's profiles depend on it
    key = (model, provider, device_index, threads, streams, precision, size, device_pad, static_shapes)
    with _engines_lock:
        eng = _engines.get(key)
        if eng is None:
            if MODELS[model].graphs:  # two-stage model (gmfss): flow graph per pair, fusion per frame
                from .gmfss import GMFSSEngine
                eng = GMFSSEngine(provider, device_index, threads)
            else:
                eng = Engine(model, provider, device_index, threads, streams, precision, size, device_pad,
                             static_shapes)
            _engines[key] = eng
        return eng

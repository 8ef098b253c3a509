"""Execution providers and sessions: which ONNX Runtime provider runs a model, with which
options, and the one place sessions are made and checked.

Imports onnxruntime lazily (inside the functions) and never imports torch.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import sys
from pathlib import Path

from ..models import RIFE_PROFILE

#: Names accepted for ``provider``; "auto" picks CUDA when a CUDA device is usable, else CPU.
#: TensorRT is only used when asked for.
PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
GPU_PROVIDERS = (PROVIDERS["cuda"], PROVIDERS["tensorrt"])


class ProviderError(RuntimeError):
    """The provider asked for is unknown or cannot run here."""


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


#: Install hints for the two ONNX Runtime wheels, which both provide the ``onnxruntime`` module.
ORT_INSTALL = "pip install 'vsvfi[cpu]' (CPU only) or 'vsvfi[gpu]' (CUDA 12/13 + cuDNN 9, CPU fallback)"


def ort_distributions() -> list[str]:
    """The ONNX Runtime distributions installed ("onnxruntime", "onnxruntime-gpu") in the
    directory the ``onnxruntime`` module is imported from: one of them in another directory
    earlier on ``sys.path`` (a private site directory over the system's packages) shadows the
    other whole and does not collide with it."""
    from importlib import metadata, util

    spec = util.find_spec("onnxruntime")
    home = Path(spec.origin).resolve().parent.parent if spec and spec.origin else None
    found = []
    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            where = Path(metadata.distribution(dist).locate_file("")).resolve()
        except metadata.PackageNotFoundError:
            continue
        if home is None or where == home:
            found.append(dist)
    return found


def check_onnxruntime() -> None:
    """Raise ProviderError when no ONNX Runtime is installed, or when both the CPU and the
    GPU wheel are: they install the same ``onnxruntime`` module, so whichever was installed
    last silently replaced the other's files."""
    found = ort_distributions()
    if len(found) > 1:
        raise ProviderError("both onnxruntime and onnxruntime-gpu are installed; they share one module and the "
                            "last one installed overwrote the other. Fix: pip uninstall -y onnxruntime "
                            "onnxruntime-gpu, then " + ORT_INSTALL)
    if importlib.util.find_spec("onnxruntime") is None:
        raise ProviderError("ONNX Runtime is not installed: " + ORT_INSTALL)


def provider_name(provider: str, device_index: int = 0) -> str:
    """The ORT provider ``provider`` ("auto", "cpu", "cuda", "tensorrt") stands for here,
    e.g. "CUDAExecutionProvider".

    Raises ProviderError when the name is unknown or the provider asked for is not usable
    here (its ORT build lacks it, or there is no CUDA device ``device_index``).
    """
    check_onnxruntime()
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
        if ep not in available and "onnxruntime-gpu" not in ort_distributions():
            why += "; the CPU-only onnxruntime wheel is installed: pip uninstall -y onnxruntime, then pip install 'vsvfi[gpu]'"
        raise ProviderError(f"provider {provider!r} was asked for but is not available ({why}); "
                            f"available here: cpu{', cuda' if has_gpu else ''}. Use provider='auto' or 'cpu'.")
    return ep


def resolve_providers(provider: str, device_index: int = 0, trt_options: dict | None = None) -> list:
    """Map ``provider`` ("auto", "cpu", "cuda", "tensorrt") to an ORT provider list: the CPU
    EP alone, or CUDA (options from :func:`cuda_provider_options`) then CPU, with TensorRT
    (``trt_options``, default :func:`tensorrt_provider_options`) in front for "tensorrt".

    Raises ProviderError as :func:`provider_name` does.
    """
    return provider_chain(provider_name(provider, device_index), device_index, trt_options)


def provider_chain(ep: str, device_index: int = 0, trt_options: dict | None = None) -> list:
    """The ORT provider list for the provider ``ep`` from :func:`provider_name`."""
    if ep == PROVIDERS["cpu"]:
        return [ep]
    preload_cuda_libraries()
    chain = [(PROVIDERS["cuda"], cuda_provider_options(device_index)), PROVIDERS["cpu"]]
    if ep == PROVIDERS["tensorrt"]:
        chain.insert(0, (ep, trt_options or tensorrt_provider_options(device_index)))
    return chain


def first_provider(providers: list) -> str:
    """The provider name at the head of a provider list (entries are names or (name, options))."""
    head = providers[0]
    return head[0] if isinstance(head, tuple) else head


def session_options(threads: int = 0):
    """The ``onnxruntime.SessionOptions`` of every vsvfi session: ``threads`` intra-op
    threads (0 = ORT's default, one per physical core), errors-only logging (stdout and
    stderr may carry the video), no spinning threads (they would steal the cores
    VapourSynth and the decoder need), all graph optimisations and sequential execution
    (fastest on the CPU: docs/cpu-profile.md)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return opts


def start_session(graph, options, providers: list, model: str):
    """An ``onnxruntime.InferenceSession`` of ``graph`` (a path, or serialized bytes) that
    really runs on the first of ``providers``.

    Raises ProviderError naming ``model`` when ONNX Runtime started another provider
    instead (e.g. CUDA libraries it could not load), and what ORT raises for the file.
    """
    import onnxruntime as ort

    sess = ort.InferenceSession(graph if isinstance(graph, bytes) else str(graph), sess_options=options,
                                providers=providers)
    wanted = first_provider(providers)
    if wanted not in sess.get_providers():
        raise ProviderError(f"ONNX Runtime could not start {wanted} for {model} "
                            f"(it runs on {sess.get_providers()}); use provider='cpu'")
    return sess


def cuda_provider_options(device_index: int = 0, *, conv_algo_search: str = "EXHAUSTIVE",
                          arena_extend_strategy: str = "kSameAsRequested", tf32: bool = True,
                          gpu_mem_limit: int | None = None, nhwc: bool = False) -> dict[str, str]:
    """Options for ``("CUDAExecutionProvider", options)``, all values strings.

    device_index: the CUDA device (``device_id``).
    conv_algo_search: cuDNN convolution algorithm choice. "EXHAUSTIVE" (ORT's default, what
        vs-mlrt uses) benchmarks every algorithm once per new input shape: the first frame
        of a size (and the first ensemble batch) is slow, later ones fastest. A clip has one
        padded size, so that cost is paid once or twice. "HEURISTIC" starts faster and may
        run slower; "DEFAULT" is cuDNN's default algorithm.
    arena_extend_strategy: "kSameAsRequested" grows the memory arena by exactly what a
        request needs; ORT's default "kNextPowerOfTwo" can reserve almost twice the memory
        of one 1080p/4K batch, and the shapes repeat from frame to frame anyway.
    tf32: TF32 tensor-core math for float32 convolutions (Ampere and later); it does not
        touch the fp16 graph, and the warp's coordinates are not convolutions.
    gpu_mem_limit: bytes of the arena, None for no limit.
    nhwc: ``prefer_nhwc`` (channels-last convolution kernels); off by default, untested.
    """
    opts = {
        "device_id": str(int(device_index)),
        "cudnn_conv_algo_search": conv_algo_search,
        "arena_extend_strategy": arena_extend_strategy,
        "do_copy_in_default_stream": "1",
        "use_tf32": "1" if tf32 else "0",
    }
    if gpu_mem_limit is not None:
        opts["gpu_mem_limit"] = str(int(gpu_mem_limit))
    if nhwc:
        opts["prefer_nhwc"] = "1"
    return opts


def trt_cache_dir() -> Path:
    """Directory of the TensorRT engine and timing caches: ``$VSVFI_TRT_CACHE``, else
    ``$XDG_CACHE_HOME/vsvfi/tensorrt``, else ``~/.cache/vsvfi/tensorrt``."""
    env = os.environ.get("VSVFI_TRT_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "vsvfi" / "tensorrt"


def trt_profile(height: int, width: int, ensemble: bool = False, max_batch: int = 2, *,
                smallest: tuple[int, int] | None = None, largest: tuple[int, int] | None = None):
    """(min, opt, max) shapes ``(batch, height, width)`` for a clip whose padded frame is
    ``height`` x ``width``: batch 1 to ``max_batch`` (2 covers ensemble, which runs the
    time-reversed pair in the same batch), optimised for 2 with ensemble, else 1. A clip
    padded to other sizes at other flow scales gives the ``smallest`` and ``largest``
    padded (height, width) for the min and max shapes (default: ``height`` x ``width``)."""
    lo, hi = smallest or (height, width), largest or (height, width)
    return (1, *lo), (min(2, max_batch) if ensemble else 1, height, width), (max_batch, *hi)


def _profile_string(shape, inputs=RIFE_PROFILE) -> str:
    n, h, w = (int(v) for v in shape)
    dims = {"frame": f"{n}x3x{h}x{w}", "timestep": f"{n}x1x1x1", "scalar": "1"}
    return ",".join(f"{name}:{dims[kind]}" for name, kind in inputs)


def tensorrt_provider_options(device_index: int = 0, cache_dir: Path | str | None = None,
                              min_shape=None, opt_shape=None, max_shape=None, *, engine_key: str = "",
                              optimization_level: int = 3, workspace_bytes: int | None = None,
                              aux_streams: int | None = None, fp16_flag: bool = False,
                              inputs=RIFE_PROFILE) -> dict[str, str]:
    """Options for ``("TensorrtExecutionProvider", options)``, all values strings.

    device_index: the CUDA device. cache_dir: default :func:`trt_cache_dir`.
    min_shape, opt_shape, max_shape: ``(batch, height, width)`` of the padded frames
        (:func:`trt_profile` makes them from the clip); they become the explicit
        ``trt_profile_{min,opt,max}_shapes`` strings for the graph's ``inputs`` (the
        model's ``ModelSpec.profile_inputs``; RIFE's by default), e.g.
        ``img0:1x3x736x1280,img1:1x3x736x1280,timestep:1x1x1x1,scale:1``. With none given
        ORT builds for the shapes it sees and rebuilds when a new one arrives.
    engine_key: a sub-directory for this graph's engines, e.g. the fp16 file's sha256:
        ORT names its engine files from the graph's structure, not its weights, so a
        re-exported model with other weights must not find the old engine.
    optimization_level: ``trt_builder_optimization_level`` (0-5, TensorRT's default 3;
        lower builds faster). workspace_bytes: ``trt_max_workspace_size``. aux_streams:
        ``trt_auxiliary_streams``.
    fp16_flag: ``trt_fp16_enable``. Off: precision comes from the fp16 graph (TensorRT 11
        removed the builder flag; networks are strongly typed). Set it only when a
        TensorRT 10 builder refuses the fp16 graph ("fp16 precision has been set ... but
        fp16 is not configured"); the weakly typed TensorRT 10 builder may then also run
        the graph's float32 islands in float16 (see docs/gpu.md).

    Engines go to ``cache_dir/engines/<engine_key>``, the timing cache (shared by every
    model: it holds per-layer timings) to ``cache_dir/timing``. Directories are created.
    Raises ValueError for an incomplete or shrinking set of profile shapes.
    """
    root = Path(cache_dir) if cache_dir is not None else trt_cache_dir()
    engines = root / "engines" / engine_key if engine_key else root / "engines"
    timing = root / "timing"
    engines.mkdir(parents=True, exist_ok=True)
    timing.mkdir(parents=True, exist_ok=True)
    opts = {
        "device_id": str(int(device_index)),
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(engines),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(timing),
        "trt_builder_optimization_level": str(int(optimization_level)),
    }
    shapes = (min_shape, opt_shape, max_shape)
    if any(s is not None for s in shapes):
        if any(s is None for s in shapes):
            raise ValueError("give all of min_shape, opt_shape and max_shape, or none")
        for a, b in zip(shapes, shapes[1:]):
            if any(int(x) > int(y) for x, y in zip(a, b)):
                raise ValueError(f"shapes must grow from min to opt to max: {shapes}")
        if inputs:
            for key, s in zip(("min", "opt", "max"), shapes):
                opts[f"trt_profile_{key}_shapes"] = _profile_string(s, inputs)
    if workspace_bytes is not None:
        opts["trt_max_workspace_size"] = str(int(workspace_bytes))
    if aux_streams is not None:
        opts["trt_auxiliary_streams"] = str(int(aux_streams))
    if fp16_flag:
        opts["trt_fp16_enable"] = "True"
    return opts

"""Everything from a model spec to an ONNX Runtime run.

- :mod:`.providers`: provider choice, provider options and the one place sessions are made;
- :mod:`.binding`: IO binding (:class:`BoundRunner`);
- :mod:`.graphs`: host padding, the static-shape copy of a graph, the device Pad + Cast graph;
- :mod:`.fp16`: the float16 graph with float32 islands;
- :mod:`.rife` and :mod:`.gmfss`: the engines, one per ``ModelSpec.kind``.

The filter talks to an :class:`Engine` from :func:`get_engine` and knows nothing else of
this package. Nothing here imports torch or VapourSynth.
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

from ..models import ModelFileError, ModelSpec, spec
from .gmfss import GMFSSEngine
from .graphs import pad_batch
from .providers import (PROVIDERS, ProviderError, cuda_device_count, preload_cuda_libraries, resolve_providers,
                        session_options)
from .rife import PRECISIONS, RifeEngine, SettingError

__all__ = ["Engine", "ENGINES", "GMFSSEngine", "ModelFileError", "PRECISIONS", "PROVIDERS", "ProviderError",
           "RifeEngine", "SettingError", "cuda_device_count", "get_engine", "pad_batch", "preload_cuda_libraries",
           "resolve_providers", "session_options"]


class Engine(Protocol):
    """What the filter needs of an engine.

    ``prepare`` does the per-pair work once (padding; a two-stage model's flow graph) and
    returns an opaque object to cache per source pair; ``synthesize`` makes one output frame
    from it. Engines with ``device_pad`` also offer ``upload(img, scale)`` (one frame on the
    device) and ``pair(dev0, dev1, img0, img1, scale)`` (a prepared pair from two uploads),
    so a source frame shared by two pairs is uploaded once.
    """

    spec: ModelSpec
    active_provider: str  #: the ORT provider that runs the network, e.g. "CPUExecutionProvider"
    precision_used: str  #: "fp32" or "fp16"
    device_pad: bool
    runs: int  #: network (or fusion-graph) runs so far

    def prepare(self, img0: np.ndarray, img1: np.ndarray, scale: float = 1.0) -> object:
        """img0, img1: float32 or float16 (3, H, W) RGB in [0, 1]; scale: flow scale, one of
        :data:`vsvfi.models.SCALES`."""

    def synthesize(self, prepared, timestep: float, ensemble: bool = False, dtype=np.float32) -> np.ndarray:
        """The frame at ``timestep`` in (0, 1): (3, H, W) of ``dtype`` (None: the graph's type)."""

    def __call__(self, img0: np.ndarray, img1: np.ndarray, timestep: float, scale: float = 1.0,
                 ensemble: bool = False) -> np.ndarray:
        """``synthesize(prepare(img0, img1, scale), timestep, ensemble)``: float32 (3, H, W)."""


#: The engine class of each ``ModelSpec.kind``.
ENGINES: dict[str, type] = {"rife": RifeEngine, "gmfss": GMFSSEngine}

_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(model: str, provider: str = "auto", device_index: int = 0, threads: int = 0,
               streams: int = 1, precision: str = "auto", size: tuple[int, int] | None = None,
               device_pad: bool | None = None, static_shapes: bool | None = None,
               cuda_graph: bool | None = None) -> Engine:
    """The shared engine of ``model``'s kind (:data:`ENGINES`) for these settings, created on
    first use (see :class:`RifeEngine` for each setting). ``size`` (frame height, width in
    pixels) only matters for TensorRT's shape profiles. Raises KeyError for an unknown model,
    and what the engine raises (ModelFileError, ProviderError, SettingError)."""
    size = size if provider == "tensorrt" else None  # only TensorRT's profiles depend on it
    key = (model, provider, device_index, threads, streams, precision, size, device_pad, static_shapes, cuda_graph)
    with _engines_lock:
        eng = _engines.get(key)
        if eng is None:
            eng = ENGINES[spec(model).kind](model, provider, device_index, threads, streams, precision, size,
                                              device_pad, static_shapes, cuda_graph)
            _engines[key] = eng
        return eng

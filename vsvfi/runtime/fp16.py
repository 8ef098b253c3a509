"""fp16 graphs with float32 islands: the converter and the cached ``models/NAME.fp16.onnx``.

The fp16 graph of a model takes float16 inputs (img0, img1, timestep), holds float16 weights
and computes its activations in float16 (convolutions, activations, resizes, the fusion), and
returns a float16 ``frame``. A few float32 islands remain: the pixel-coordinate arithmetic of
the backward warp (the grid ``(x + flow) * 2 / (W - 1) - 1``, or the Floor and bilinear weights
of a Gather-based warp), the sampler itself (GridSample), the ``scale`` arithmetic and the
other :data:`FP32_OPS`. Casts join the islands to the rest.

- :func:`convert_fp16` (:mod:`vsvfi.runtime.fp16_passes`) converts a float32 ModelProto.
- :func:`fp16_onnx` makes (once, cached, recorded in the manifest as ``NAME.fp16``) the fp16
  file of a model from its verified float32 file.
- :func:`fp32_islands` / :func:`fp32_nodes` tell which nodes of an fp16 graph compute in
  float32.

This module imports onnx and numpy lazily (inside the functions) and never imports torch.
Design notes and what was measured: docs/gpu.md ("fp16 graphs with float32 islands").
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ..assets import sha256_of
from ..models import file_entry, model_dir, read_manifest, spec, verified_onnx, write_manifest_entry
from .fp16_passes import (_FLOAT, _FLOAT32_INPUTS, COORD_SOURCE_OPS, CONVERTER, FP32_OPS, SAMPLER_OPS, _elem_types,
                          convert_fp16)

__all__ = ["CONVERTER", "COORD_SOURCE_OPS", "FP32_OPS", "SAMPLER_OPS", "convert_fp16", "fp16_onnx", "fp16_path",
           "fp32_islands", "fp32_nodes"]


def fp16_path(name: str) -> Path:
    """Path of the fp16 graph of model ``name``: ``<model dir>/NAME.fp16.onnx``."""
    return model_dir() / f"{spec(name).name}.fp16.onnx"


# --------------------------------------------------------------------------- inspection

def _computes_float32(node, types) -> bool:
    """Whether ``node`` has a float32 input or output (the float32-only inputs of
    :data:`_FLOAT32_INPUTS` left out)."""
    fixed = _FLOAT32_INPUTS.get(node.op_type, ())
    ins = [t for p, t in enumerate(node.input) if p not in fixed]
    return any(types.get(t) == _FLOAT for t in (*ins, *node.output) if t)


def fp32_islands(model) -> set[str]:
    """Op types of the nodes of an fp16 ``model`` (ModelProto or path) that compute in
    float32: a float32 input or output, as shape inference sees it. Cast, Constant,
    ConstantOfShape, Shape and Size are left out (they compute nothing in a float type).
    For the RIFE graphs: GridSample, CumSum and the grid arithmetic (Add, Sub, Mul,
    Reciprocal, Slice, Concat, Transpose) plus the scalar ``scale`` arithmetic."""
    return {n.op_type for n in fp32_nodes(model)}


def fp32_nodes(model) -> list:
    """The nodes of :func:`fp32_islands` (NodeProto objects, in graph order)."""
    import onnx

    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    model = onnx.shape_inference.infer_shapes(model)
    types = _elem_types(model)
    skip = {"Cast", "Constant", "ConstantOfShape", "Shape", "Size"}
    return [n for n in model.graph.node if n.op_type not in skip and _computes_float32(n, types)]


# --------------------------------------------------------------------------- the cached file

_fp16_lock = threading.Lock()


def fp16_onnx(name: str, *, force: bool = False) -> Path:
    """Path of the fp16 graph of model ``name``, made from its verified float32 file if
    needed (see :func:`convert_fp16`; inputs img0/img1/timestep and output ``frame`` are
    float16, ``scale`` stays float32 (1,), rife39's ``large_motion`` stays bool).

    The file is written atomically (temporary name, then rename) and recorded in the
    manifest as ``NAME.fp16`` with its sha256 and the sha256 of the float32 source; it is
    made again when the float32 file changes (re-export), when the conversion rules
    (:data:`CONVERTER`) change, when the file does not match its entry, or with ``force``.
    Raises KeyError for an unknown model, :class:`vsvfi.models.ModelFileError` when the
    float32 file is missing or fails its check, ValueError when the conversion fails.
    Takes about a second (rife46 0.6 s, rife39 0.9 s on a 2-core machine).
    """
    import onnx

    model = spec(name)
    src, src_entry = verified_onnx(model.name)
    path = fp16_path(model.name)
    key = f"{model.name}.fp16"
    with _fp16_lock:
        entry = read_manifest().get(key)
        if (not force and entry and path.exists() and entry.get("source_sha256") == src_entry["sha256"]
                and entry.get("converter") == CONVERTER and sha256_of(path) == entry.get("sha256")):
            return path
        model = convert_fp16(onnx.load(str(src)))
        onnx.checker.check_model(model, full_check=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            onnx.save(model, str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

        write_manifest_entry(key, {
            **file_entry(path, model),
            "source": src.name,
            "source_sha256": src_entry["sha256"],
            "converter": CONVERTER,
            "keep_io_types": False,
            "fp32_ops": sorted(fp32_islands(model)),
        })
    return path

"""Graph-level helpers of the engines: host-side padding, the static-shape copy of a
network graph, and the small device-side Pad + Cast graph."""

from __future__ import annotations

import numpy as np

from ..models import DISAGREEMENT_BLOCK


def pad_batch(img: np.ndarray, multiple: int, mode: str = "edge", dtype=np.float32) -> np.ndarray:
    """``img`` (C, H, W) as a contiguous (1, C, H', W') array of ``dtype``, padded at the
    bottom and right (numpy pad ``mode``) to H', W' multiples of ``multiple`` pixels."""
    _, h, w = img.shape
    ph, pw = -h % multiple, -w % multiple
    out = np.pad(img[None], ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode) if ph or pw else img[None]
    return np.ascontiguousarray(out, dtype)


def static_model(model, scale: float):
    """A copy of a vsvfi network graph (``onnx.ModelProto``) whose ``scale`` input is the
    constant ``scale`` (float32 (1,) initializer). Run with the ``batch``, ``height`` and
    ``width`` dimensions fixed (:func:`fix_dimensions`), ONNX Runtime's constant folding then
    removes all the shape arithmetic (Shape, Gather, Unsqueeze, ConstantOfShape, the CumSum
    pixel grids): rife46 fp32 goes from 648 to 387 nodes after ORT's basic optimisations, and
    none left is one the CUDA provider keeps on the CPU (docs/gpu.md). Same results (fp32:
    bit for bit; fp16: folded constants may round a float16 step differently)."""
    import onnx
    from onnx import numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    inp = next(i for i in out.graph.input if i.name == "scale")
    out.graph.input.remove(inp)
    out.graph.initializer.append(numpy_helper.from_array(np.array([scale], np.float32), "scale"))
    return out


def fix_dimensions(options, batch: int, height: int, width: int) -> None:
    """Fix the named dynamic dimensions of the vsvfi graphs in ``options``
    (``onnxruntime.SessionOptions``): batch (frames), height and width (padded pixels),
    and the disagreement output's blocks."""
    sizes = {"batch": batch, "height": height, "width": width, "blocks_y": height // DISAGREEMENT_BLOCK,
             "blocks_x": width // DISAGREEMENT_BLOCK}
    for name, value in sizes.items():
        options.add_free_dimension_override_by_name(name, int(value))


def pad_model(in_dtype: str, out_dtype: str):
    """A one-node-pair ONNX graph that pads and casts a frame batch where it already is (on the
    GPU: no host pass over the pixels): input ``x`` (N, C, H, W) of ``in_dtype`` ("float32"
    or "float16"), input ``pads`` int64 (8,) in ONNX Pad order (begin of each axis, then
    end); output ``y`` = Cast(Pad(x, pads, mode="edge"), out_dtype), what
    :func:`pad_batch` computes on the host."""
    from onnx import TensorProto, helper

    types = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}
    src, dst = types[in_dtype], types[out_dtype]
    nodes = [helper.make_node("Pad", ["x", "pads"], ["padded" if src != dst else "y"], mode="edge")]
    if src != dst:
        nodes.append(helper.make_node("Cast", ["padded"], ["y"], to=dst))
    graph = helper.make_graph(
        nodes, "vsvfi_pad",
        [helper.make_tensor_value_info("x", src, ["n", "c", "h", "w"]),
         helper.make_tensor_value_info("pads", TensorProto.INT64, [8])],
        [helper.make_tensor_value_info("y", dst, ["n", "c", "h2", "w2"])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def copy_model(dtype: str):
    """A one-node ONNX graph copying ``x`` (N, C, H, W) of ``dtype`` to ``y`` where it
    already is: with ``y`` bound to a fixed buffer, it moves a frame on the device into the
    input buffer of a CUDA graph (:class:`vsvfi.runtime.binding.GraphRunner`)."""
    from onnx import TensorProto, helper

    kind = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}[dtype]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "vsvfi_copy",
        [helper.make_tensor_value_info("x", kind, ["n", "c", "h", "w"])],
        [helper.make_tensor_value_info("y", kind, ["n", "c", "h", "w"])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)

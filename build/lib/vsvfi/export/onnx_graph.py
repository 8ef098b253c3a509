"""ONNX settings and fixes shared by the exporters (:mod:`vsvfi.export`,
:mod:`vsvfi.export.gmfss`)."""

from __future__ import annotations

import onnx

#: Exporter settings; see docs/export.md for why the TorchScript exporter was chosen.
OPSET = 17
IR_VERSION = 8  # what opset 17 needs; ONNX Runtime 1.31 reads IR <= 13


def declare_outputs(model: onnx.ModelProto, declared: dict) -> onnx.ModelProto:
    """Set the IR version to :data:`IR_VERSION` and each graph output's shape to
    ``declared[name]`` (ints fixed, strings symbolic), then run the ONNX checker."""
    model.ir_version = IR_VERSION
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        assert len(dims) == len(declared[out.name]), (out.name, dims)
        for d, want in zip(dims, declared[out.name]):
            d.Clear()
            if isinstance(want, int):
                d.dim_value = want
            else:
                d.dim_param = want
    onnx.checker.check_model(model)
    return model

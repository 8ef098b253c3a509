"""The fp16 converter: a float32 ONNX graph -> float16 with float32 islands
(:func:`convert_fp16`), written as a fixed sequence of passes over a shared
:class:`_Conversion`: :func:`_infer_types`, :func:`_index_consumers`, :func:`_image_data`,
:func:`_coordinate_nodes` (rule 3), :func:`_assign_domains` (rules 1-3: the type each node
computes in), :func:`_retype_constants`, :func:`_insert_casts`, :func:`_cast_outputs`,
:func:`_assemble`. What the fp16 graph is: :mod:`vsvfi.runtime.fp16`.

Imports onnx and numpy lazily (inside the functions) and never imports torch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


#: Version of the conversion rules; a manifest entry made by other rules is made again. A tag,
#: not a module path: it keeps its old name while the rules (and the bytes they make) are the same.
CONVERTER = "vsvfi.gpu.convert_fp16/1"

#: Op types always computed in float32 in the fp16 graph.
#:
#: - GridSample: ONNX Runtime's CUDA kernel is registered for float32 only (an fp16 node
#:   silently falls back to the CPU with two copies per call), and its grid holds pixel
#:   coordinates that float16 cannot hold exactly above 2048 (11-bit significand).
#: - CumSum, Range: they generate the integer pixel grid 0 .. W-1 of the warp.
#: - Reduce*: long sums/means lose precision and overflow (65504) in float16.
#: - ScatterND, ScatterElements: forward splatting (softmax splatting) sums weighted pixels
#:   into the target positions; the sums and the weight totals need float32.
#: - Softmax, Exp, Log, Pow: range problems in float16 (none in the RIFE graphs today).
FP32_OPS = frozenset({"GridSample", "CumSum", "Range", "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL2",
                      "ReduceLogSumExp", "Softmax", "LogSoftmax", "Exp", "Log", "Pow", "ScatterND",
                      "ScatterElements"})

#: Ops that read or write an image at computed positions; input 1 holds the positions (a
#: float grid for GridSample, integer indices for the Gather and Scatter families).
SAMPLER_OPS = frozenset({"GridSample", "Gather", "GatherElements", "GatherND", "ScatterND", "ScatterElements"})

#: Ops whose float outputs are pixel coordinates: where the coordinate closure starts.
COORD_SOURCE_OPS = frozenset({"CumSum", "Range"})

# Ops that only move data: they compute in whatever type their data input has (no Cast).
_MOVE_OPS = frozenset({"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Split", "Expand", "Identity",
                       "Flatten", "Tile", "Gather", "GatherElements", "GatherND", "DepthToSpace", "SpaceToDepth"})
# Inputs that accept any element type (no Cast is ever needed in front of them).
_ANY_TYPE_OPS = frozenset({"Shape", "Size", "Cast", "CastLike"})
# Inputs whose type is float32 whatever the data type of the node (ONNX spec).
_FLOAT32_INPUTS = {"Resize": (1, 2), "Upsample": (1,)}
# Constant-like producers: retyped (or twinned) to what their consumers need instead of cast.
_CONST_OPS = frozenset({"Constant", "ConstantOfShape"})

_FP16_MAX = 65504.0

# onnx.TensorProto.FLOAT and FLOAT16 (fixed by onnx.proto; spelled out so that the module
# does not import onnx when it is imported).
_FLOAT, _HALF = 1, 10


# --------------------------------------------------------------------------- helpers

def _fp16_array(arr):
    """float32 -> float16, finite values clipped to the float16 range (+-65504)."""
    import numpy as np

    arr = np.asarray(arr, dtype=np.float32)
    finite = np.isfinite(arr)
    return np.where(finite, np.clip(arr, -_FP16_MAX, _FP16_MAX), arr).astype(np.float16)


def _tensor_fp16(t):
    """A float32 TensorProto converted to float16 (same name)."""
    from onnx import numpy_helper

    out = numpy_helper.from_array(_fp16_array(numpy_helper.to_array(t)), t.name)
    return out


def _elem_types(model) -> dict[str, int]:
    """Element type of every tensor of the (shape-inferred) graph."""
    from onnx import TensorProto, helper

    g = model.graph
    types = {}
    for vi in (*g.input, *g.value_info, *g.output):
        if vi.type.HasField("tensor_type"):
            types[vi.name] = vi.type.tensor_type.elem_type
    for init in g.initializer:
        types[init.name] = init.data_type
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    types[node.output[0]] = a.t.data_type
                elif a.name in ("value_float", "value_floats"):
                    types[node.output[0]] = TensorProto.FLOAT
                elif a.name in ("value_int", "value_ints"):
                    types[node.output[0]] = TensorProto.INT64
        elif node.op_type == "ConstantOfShape" and node.output[0] not in types:
            val = helper.get_node_attr_value(node, "value") if node.attribute else None
            types[node.output[0]] = val.data_type if val is not None else TensorProto.FLOAT
    return types


def _descendants(nodes, consumers, starts) -> set[str]:
    """The tensors ``starts`` and every tensor computed from them."""
    seen, stack = set(), list(starts)
    while stack:
        t = stack.pop()
        for i, _ in consumers.get(t, ()):
            for o in nodes[i].output:
                if o and o not in seen:
                    seen.add(o)
                    stack.append(o)
    return seen | set(starts)


def _source_closure(nodes, consumers, src, fetched) -> tuple[set[int], set[int]]:
    """One growth of the coordinate closure of source node ``src``: (closure node indices,
    indices of the samplers it reaches through their coordinate input). Nodes that read a
    tensor of ``fetched`` (what the samplers fetched) are not entered."""
    closure, samplers = set(), set()
    stack = [o for o in src.output if o]
    while stack:
        t = stack.pop()
        for i, p in consumers.get(t, ()):
            node = nodes[i]
            if node.op_type in SAMPLER_OPS:
                if p == 1:
                    samplers.add(i)
                continue
            if i in closure or any(x in fetched for x in node.input):
                continue
            closure.add(i)
            stack.extend(o for o in node.output if o)
    return closure, samplers


def _coordinate_nodes(nodes, consumers, sources) -> set[int]:
    """Indices of the nodes that compute pixel coordinates (rule 3 of :func:`convert_fp16`).

    For each source node (CumSum/Range: one pixel grid of one warp) the closure grows
    forward through its consumers. A sampler reached through its coordinate input (input
    1) ends a path; a node with an input computed from that warp's sampler outputs (the
    blend ``v00 + wx * (v01 - v00)``) is not entered, so the weights stay float32 and the
    fetched pixels float16. The samplers of a warp are only known once its closure has
    reached them, so the closure is grown again until it no longer changes. Working per
    source keeps warp k's output (which feeds the flow of warp k + 1) out of warp k + 1's
    closure, whose grid arithmetic must still be float32.
    """
    coord: set[int] = set()
    for src in nodes:
        if src.op_type not in sources:
            continue
        fetched: set[str] = set()
        for _ in range(8):
            closure, samplers = _source_closure(nodes, consumers, src, fetched)
            now = _descendants(nodes, consumers, [o for i in samplers for o in nodes[i].output if o])
            if now == fetched:
                break
            fetched = now
        coord |= closure
    return coord


def _fold_initializer_identities(model):
    """A copy of ``model`` without Identity nodes on initializers (the TorchScript exporter
    emits them for weights used twice, e.g. rife39's PReLU slopes): their consumers read the
    initializer, so it is converted with them instead of being cast at every run."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {i.name for i in g.initializer}
    outputs = {o.name for o in g.output}
    alias = {n.output[0]: n.input[0] for n in g.node
             if n.op_type == "Identity" and n.input[0] in inits and n.output[0] not in outputs}
    if not alias:
        return m
    keep = [n for n in g.node if not (n.op_type == "Identity" and n.output[0] in alias)]
    for n in keep:
        for k, t in enumerate(n.input):
            if t in alias:
                n.input[k] = alias[t]
    del g.node[:]
    g.node.extend(keep)
    return m


def _retype_const(node, to_half: bool, suffix=""):
    """A copy of Constant/ConstantOfShape ``node`` producing float16 (or as is)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.NodeProto()
    out.CopyFrom(node)
    if not to_half:
        return out
    out.output[0] = node.output[0] + suffix
    if suffix:
        out.name = node.name + suffix
    for a in out.attribute:
        if a.name == "value" and a.t.data_type == _FLOAT:
            a.t.CopyFrom(_tensor_fp16(a.t))
        elif a.name in ("value_float", "value_floats"):
            vals = [a.f] if a.name == "value_float" else list(a.floats)
            arr = np.array(vals if a.name == "value_floats" else vals[0], np.float32)
            a.CopyFrom(helper.make_attribute("value", numpy_helper.from_array(_fp16_array(arr))))
    if node.op_type == "ConstantOfShape" and not node.attribute:
        out.attribute.append(helper.make_attribute("value", helper.make_tensor("value", _HALF, [1], [1.0])))
    return out


# --------------------------------------------------------------------------- conversion passes

@dataclass
class _Conversion:
    """What the passes of :func:`convert_fp16` share: the source graph, what is decided about
    it, and the graph being built."""

    model: Any  # the float32 model, initializer Identities folded: the template of the result
    graph: Any  # its shape-inferred graph (the nodes, initializers and io the passes read)
    types: dict[str, int]  # element type of every tensor of ``graph``
    keep_io_types: bool
    meta_inputs: tuple
    nodes: list = field(default_factory=list)
    consumers: defaultdict = field(default_factory=lambda: defaultdict(list))  # tensor -> [(node, pos)]
    data: set[str] = field(default_factory=set)  # tensors computed from image data
    coord: set[int] = field(default_factory=set)  # the coordinate closure (rule 3)
    # Element type each float tensor will have; None = constant-like, decided by consumers.
    new_type: dict[str, int | None] = field(default_factory=dict)
    domain: dict[int, int | None] = field(default_factory=dict)  # node -> type it computes in (None: no float math)
    want_out: dict[str, int] = field(default_factory=dict)  # float graph output -> declared type
    twin: dict[str, str] = field(default_factory=dict)  # float32 constant -> its float16 twin
    new_nodes: list = field(default_factory=list)
    casts: dict[tuple[str, int], str] = field(default_factory=dict)  # (tensor, type) -> cast output

    def is_float(self, t) -> bool:
        return bool(t) and self.types.get(t) == _FLOAT

    def tensor_type(self, t):
        """The element type of ``t`` in the new graph."""
        return self.new_type.get(t, self.types.get(t))

    def required(self, i, p):
        """The type input ``p`` of node ``i`` needs (None: any)."""
        node = self.nodes[i]
        if node.op_type in _ANY_TYPE_OPS:
            return None
        if p in _FLOAT32_INPUTS.get(node.op_type, ()):
            return _FLOAT
        return self.domain[i]

    def cast(self, t, to) -> str:
        """The name of ``t`` cast to ``to``; the Cast is added once per tensor and type."""
        from onnx import helper

        key = (t, to)
        if key not in self.casts:
            name = f"{t}__to_{'fp16' if to == _HALF else 'fp32'}"
            self.casts[key] = name
            self.new_nodes.append(helper.make_node("Cast", [t], [name], to=to, name=name))
        return self.casts[key]


def _infer_types(model, keep_io_types, meta_inputs) -> _Conversion:
    """Fold the initializer Identities, infer the element type of every tensor; raise when
    the model has float16 tensors already or a node output has no inferable type."""
    import onnx

    model = _fold_initializer_identities(model)
    src = onnx.shape_inference.infer_shapes(model)
    cv = _Conversion(model, src.graph, _elem_types(src), keep_io_types, meta_inputs)
    if any(t == _HALF for t in cv.types.values()):
        raise ValueError("the model already has float16 tensors")
    cv.nodes = list(cv.graph.node)
    for node in cv.nodes:
        for o in node.output:
            if o and o not in cv.types:
                raise ValueError(f"cannot infer the element type of {o!r} ({node.op_type} {node.name!r})")
    return cv


def _index_consumers(cv: _Conversion) -> None:
    """``consumers``: tensor -> [(node index, input position)]."""
    for i, node in enumerate(cv.nodes):
        for p, t in enumerate(node.input):
            if t:
                cv.consumers[t].append((i, p))


def _image_data(cv: _Conversion) -> None:
    """``data``: the tensors that depend on image data (Shape/Size cut it: a shape is not
    pixel data); the float inputs other than ``meta_inputs`` are image data."""
    cv.data = {vi.name for vi in cv.graph.input if cv.is_float(vi.name) and vi.name not in cv.meta_inputs}
    for node in cv.nodes:
        if node.op_type not in ("Shape", "Size") and any(t in cv.data for t in node.input):
            cv.data.update(o for o in node.output if o)


def _node_domain(cv: _Conversion, i, node, ins, outs, fp32_ops):
    """The type node ``i`` computes in (rules 1-3 of :func:`convert_fp16`); None: no float
    math (a constant-like node, or one that only reads shapes or casts)."""
    if node.op_type in _CONST_OPS:
        return None
    if not outs and (not ins or node.op_type in _ANY_TYPE_OPS):
        return None
    if node.op_type in fp32_ops or i in cv.coord:
        return _FLOAT
    if not any(o in cv.data for o in node.output if o):
        return _FLOAT  # rule 2: no image data involved
    if node.op_type in _MOVE_OPS and ins and node.input[0] == ins[0]:
        return cv.new_type.get(ins[0]) or _HALF
    return _HALF


def _assign_domains(cv: _Conversion, fp32_ops) -> None:
    """``domain`` of every node and ``new_type`` of every float tensor, in graph order (a
    data-moving node takes the new type of its data input): the float inputs (float16 unless
    ``keep_io_types`` or a meta input), initializers and constant outputs (None: decided by
    :func:`_retype_constants`), the other node outputs (their node's domain)."""
    for vi in cv.graph.input:
        if cv.is_float(vi.name):
            cv.new_type[vi.name] = _FLOAT if (cv.keep_io_types or vi.name in cv.meta_inputs) else _HALF
    for init in cv.graph.initializer:
        if init.data_type == _FLOAT:
            cv.new_type[init.name] = None
    for i, node in enumerate(cv.nodes):
        outs = [o for o in node.output if cv.is_float(o)]
        ins = [t for t in node.input if cv.is_float(t)]
        dom = _node_domain(cv, i, node, ins, outs, fp32_ops)
        cv.domain[i] = dom
        for o in outs:
            cv.new_type[o] = None if node.op_type in _CONST_OPS else dom


def _retype_constants(cv: _Conversion) -> None:
    """Constant-like tensors take the type their consumers need (a float16 twin beside the
    float32 original when they need both); ``want_out``: the declared type of the float
    graph outputs (float16 unless ``keep_io_types``)."""
    cv.want_out = {vi.name: (_FLOAT if cv.keep_io_types else _HALF)
                   for vi in cv.graph.output if cv.is_float(vi.name)}
    const_needs: dict[str, set] = defaultdict(set)
    for t, typ in cv.new_type.items():
        if typ is None:
            for i, p in cv.consumers.get(t, ()):
                need = cv.required(i, p)
                if need is not None:
                    const_needs[t].add(need)
            if t in cv.want_out:
                const_needs[t].add(cv.want_out[t])
    for t in [t for t, typ in cv.new_type.items() if typ is None]:
        needs = const_needs.get(t, set())
        if needs == {_HALF}:
            cv.new_type[t] = _HALF
        else:
            cv.new_type[t] = _FLOAT
            if _HALF in needs:
                cv.twin[t] = f"{t}__fp16"


def _rewrite_node(cv: _Conversion, i, node):
    """A copy of node ``i`` whose float inputs have the type it needs (through a twin or a
    Cast); a Cast to float32 in a float16 domain casts to float16 instead."""
    import onnx
    from onnx import helper

    out = onnx.NodeProto()
    out.CopyFrom(node)
    for p, t in enumerate(node.input):
        if not t or cv.tensor_type(t) not in (_FLOAT, _HALF):
            continue
        need = cv.required(i, p)
        have = cv.tensor_type(t)
        if need is None or need == have:
            continue
        out.input[p] = cv.twin[t] if t in cv.twin and need == _HALF else cv.cast(t, need)
    if node.op_type == "Cast":
        to = helper.get_node_attr_value(node, "to")
        if to == _FLOAT and cv.domain[i] == _HALF:
            for a in out.attribute:
                if a.name == "to":
                    a.i = _HALF
    return out


def _insert_casts(cv: _Conversion) -> None:
    """``new_nodes``: the nodes in graph order, constants retyped (and twinned), the others
    rewritten by :func:`_rewrite_node`, each Cast just before its first reader."""
    for i, node in enumerate(cv.nodes):
        if node.op_type in _CONST_OPS and node.output[0] in cv.new_type:
            o = node.output[0]
            cv.new_nodes.append(_retype_const(node, cv.new_type[o] == _HALF))
            if o in cv.twin:
                cv.new_nodes.append(_retype_const(node, True, suffix="__fp16"))
            continue
        cv.new_nodes.append(_rewrite_node(cv, i, node))


def _cast_outputs(cv: _Conversion) -> None:
    """Graph outputs: the declared type (float16 unless keep_io_types). An output computed
    in the other type is renamed ``NAME__raw`` and cast into ``NAME`` at the end."""
    from onnx import helper

    for name, want in cv.want_out.items():
        if cv.tensor_type(name) == want:
            continue
        raw = f"{name}__raw"
        for n in cv.new_nodes:
            for k, o in enumerate(n.output):
                if o == name:
                    n.output[k] = raw
            for k, t in enumerate(n.input):
                if t == name:
                    n.input[k] = raw
        cv.new_type[raw] = cv.tensor_type(name)
        cv.new_nodes.append(helper.make_node("Cast", [raw], [name], to=want, name=f"{name}__cast_out"))


def _assemble(cv: _Conversion):
    """The new ModelProto: ``new_nodes``, initializers converted (and twinned), float io
    retyped, value_info dropped; shape-inferred and type-checked."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(cv.model)
    mg = m.graph
    del mg.node[:]
    mg.node.extend(cv.new_nodes)
    del mg.value_info[:]
    inits = []
    for init in cv.graph.initializer:
        if init.data_type == _FLOAT and cv.new_type.get(init.name) == _HALF:
            inits.append(_tensor_fp16(init))
        else:
            inits.append(init)
            if init.name in cv.twin:
                tw = _tensor_fp16(init)
                tw.name = cv.twin[init.name]
                inits.append(tw)
    del mg.initializer[:]
    mg.initializer.extend(inits)
    for vi in mg.input:
        if cv.is_float(vi.name) and cv.new_type[vi.name] == _HALF:
            vi.type.tensor_type.elem_type = _HALF
    for vi in mg.output:
        if vi.name in cv.want_out:
            vi.type.tensor_type.elem_type = cv.want_out[vi.name]
    out_names = {vi.name for vi in cv.graph.output}
    assert not (out_names - {o for n in mg.node for o in n.output} - {i.name for i in mg.input})
    return onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)


def convert_fp16(model, *, keep_io_types: bool = False, fp32_ops=FP32_OPS, meta_inputs=("scale",),
                 coord_sources=COORD_SOURCE_OPS):
    """Convert a float32 ONNX model to float16 with float32 islands; returns a new ModelProto.

    model: an ``onnx.ModelProto`` whose float tensors are all float32.
    keep_io_types: False (vsvfi's choice) makes the float inputs and outputs float16, so RGBH
        frames go in and out without a cast and the host<->device copies are halved; True
        keeps them float32 (Casts are added inside the graph).
    fp32_ops: op types computed in float32 (:data:`FP32_OPS`).
    meta_inputs: float inputs that are parameters, not image data (``scale``): they and
        everything computed from them alone stay float32 (Resize needs float32 scales).
    coord_sources: op types whose outputs are pixel coordinates (:data:`COORD_SOURCE_OPS`);
        an empty set turns rule 3 off (for tests: the grid arithmetic then runs in float16).

    Which nodes stay float32:

    1. ``fp32_ops``.
    2. Nodes whose float outputs do not depend on image data: the ``scale`` arithmetic, the
       pixel grids built from shapes (their cost is nil; Resize's scales must be float32).
    3. The coordinate closure (:func:`_coordinate_nodes`): every node reached forward from
       a :data:`COORD_SOURCE_OPS` output (the integer pixel grid), stopping at the samplers
       it feeds and at any node that uses a value computed from what those samplers
       fetched (the blend of the fetched pixels). For the GridSample warp this is
       ``(x + flow) * 2 / (W - 1) - 1`` and the Concat/Transpose into the grid; for a
       Gather-based warp the Floor, the fractional parts (bilinear weights) and any float
       index arithmetic before the Cast to int64. The flow itself stays float16 and is cast
       up where it is added to the grid: the grid coordinate, not the flow, is what float16
       cannot hold above 2048 px.

    Everything else computes in float16: Conv, ConvTranspose, activations, Resize (its data;
    scales/roi stay float32), the fusion. Constants and initializers are converted (values
    clipped to +-65504) or duplicated when both a float16 and a float32 consumer use them;
    elsewhere a Cast is inserted once per tensor and target type. Raises ValueError when the
    model already has float16 tensors or a tensor type cannot be inferred.
    """
    cv = _infer_types(model, keep_io_types, meta_inputs)
    _index_consumers(cv)
    _image_data(cv)
    cv.coord = _coordinate_nodes(cv.nodes, cv.consumers, coord_sources)
    _assign_domains(cv, fp32_ops)
    _retype_constants(cv)
    _insert_casts(cv)
    _cast_outputs(cv)
    return _assemble(cv)

"""The GPU path: fp16 graphs with float32 islands, IO binding, CUDA / TensorRT provider options.

- :func:`fp16_onnx` turns the verified float32 graph of a model into ``models/NAME.fp16.onnx``
  (made once, cached, recorded in the manifest as ``NAME.fp16``) with :func:`convert_fp16`:
  convolutions, activations, resizes and the fusion run in float16; the backward warp
  (GridSample, or a Gather-based warp) and the pixel-coordinate arithmetic that feeds it stay
  float32 (see :data:`FP32_OPS` and :func:`convert_fp16` for why and where).
- :class:`BoundRunner` runs a session with IO binding: one host->device copy per input and
  one device->host copy per output, device-resident inputs (:meth:`BoundRunner.upload`)
  reusable across calls.
- :func:`cuda_provider_options` / :func:`tensorrt_provider_options` build the provider
  option dicts (device, cuDNN algorithm search, arena growth, TensorRT engine and timing
  caches under :func:`trt_cache_dir`, explicit shape profiles).

This module imports onnx, onnxruntime and numpy lazily (inside the functions) and never
imports torch. Design notes and what was measured: docs/gpu.md.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from pathlib import Path

from .assets import sha256_of
from .models import MODELS, file_entry, model_dir, read_manifest, verified_onnx, write_manifest_entry

#: Version of the conversion rules; a manifest entry made by other rules is made again.
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


def fp16_path(name: str) -> Path:
    """Path of the fp16 graph of model ``name``: ``<model dir>/NAME.fp16.onnx``."""
    return model_dir() / f"{MODELS[name].name}.fp16.onnx"


# --------------------------------------------------------------------------- conversion

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
    out_consumers = consumers

    def descendants(starts):
        seen, stack = set(), list(starts)
        while stack:
            t = stack.pop()
            for i, _ in out_consumers.get(t, ()):
                for o in nodes[i].output:
                    if o and o not in seen:
                        seen.add(o)
                        stack.append(o)
        return seen | set(starts)

    coord: set[int] = set()
    for src in nodes:
        if src.op_type not in sources:
            continue
        fetched: set[str] = set()
        for _ in range(8):
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
            now = descendants([o for i in samplers for o in nodes[i].output if o])
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
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16
    model = _fold_initializer_identities(model)
    src = onnx.shape_inference.infer_shapes(model)
    g = src.graph
    types = _elem_types(src)
    if any(t == HALF for t in types.values()):
        raise ValueError("the model already has float16 tensors")
    nodes = list(g.node)
    for node in nodes:
        for o in node.output:
            if o and o not in types:
                raise ValueError(f"cannot infer the element type of {o!r} ({node.op_type} {node.name!r})")

    def is_float(t):
        return bool(t) and types.get(t) == FLOAT

    consumers = defaultdict(list)  # tensor -> [(node index, input position)]
    for i, node in enumerate(nodes):
        for p, t in enumerate(node.input):
            if t:
                consumers[t].append((i, p))

    # Image-data dependence (Shape/Size cut it: a shape is not pixel data).
    data = {vi.name for vi in g.input if is_float(vi.name) and vi.name not in meta_inputs}
    for node in nodes:
        if node.op_type not in ("Shape", "Size") and any(t in data for t in node.input):
            data.update(o for o in node.output if o)

    # The coordinate closure (rule 3).
    coord = _coordinate_nodes(nodes, consumers, coord_sources)

    # Element type each float tensor will have; None = constant-like, decided by consumers.
    new_type: dict[str, int | None] = {}
    for vi in g.input:
        if is_float(vi.name):
            new_type[vi.name] = FLOAT if (keep_io_types or vi.name in meta_inputs) else HALF
    for init in g.initializer:
        if init.data_type == FLOAT:
            new_type[init.name] = None
    domain: dict[int, int | None] = {}  # node index -> type it computes in (None: no float math)
    for i, node in enumerate(nodes):
        outs = [o for o in node.output if is_float(o)]
        ins = [t for t in node.input if is_float(t)]
        if node.op_type in _CONST_OPS:
            dom = None
            for o in outs:
                new_type[o] = None
        elif not outs and (not ins or node.op_type in _ANY_TYPE_OPS):
            dom = None
        elif node.op_type in fp32_ops or i in coord:
            dom = FLOAT
        elif not any(o in data for o in node.output if o):
            dom = FLOAT  # rule 2: no image data involved
        elif node.op_type in _MOVE_OPS and ins and node.input[0] == ins[0]:
            dom = new_type.get(ins[0]) or HALF
        else:
            dom = HALF
        domain[i] = dom
        for o in outs:
            if node.op_type not in _CONST_OPS:
                new_type[o] = dom

    def required(i, p, t):
        node = nodes[i]
        if node.op_type in _ANY_TYPE_OPS:
            return None
        if p in _FLOAT32_INPUTS.get(node.op_type, ()):
            return FLOAT
        return domain[i]

    # Constant-like tensors take the type their consumers need (a twin when they need both).
    out_names = {vi.name for vi in g.output}
    want_out = {vi.name: (FLOAT if keep_io_types else HALF) for vi in g.output if is_float(vi.name)}
    const_needs: dict[str, set] = defaultdict(set)
    for t, typ in new_type.items():
        if typ is None:
            for i, p in consumers.get(t, ()):
                need = required(i, p, t)
                if need is not None:
                    const_needs[t].add(need)
            if t in want_out:
                const_needs[t].add(want_out[t])
    twin: dict[str, str] = {}  # float32 constant -> its float16 twin
    for t in [t for t, typ in new_type.items() if typ is None]:
        needs = const_needs.get(t, set())
        if needs == {HALF}:
            new_type[t] = HALF
        else:
            new_type[t] = FLOAT
            if HALF in needs:
                twin[t] = f"{t}__fp16"

    new_nodes = []
    casts: dict[tuple[str, int], str] = {}

    def cast(t, to):
        key = (t, to)
        if key not in casts:
            name = f"{t}__to_{'fp16' if to == HALF else 'fp32'}"
            casts[key] = name
            new_nodes.append(helper.make_node("Cast", [t], [name], to=to, name=name))
        return casts[key]

    def retype_const(node, to_half: bool, suffix=""):
        """A copy of Constant/ConstantOfShape ``node`` producing float16 (or as is)."""
        out = onnx.NodeProto()
        out.CopyFrom(node)
        if not to_half:
            return out
        out.output[0] = node.output[0] + suffix
        if suffix:
            out.name = node.name + suffix
        for a in out.attribute:
            if a.name == "value" and a.t.data_type == FLOAT:
                a.t.CopyFrom(_tensor_fp16(a.t))
            elif a.name in ("value_float", "value_floats"):
                import numpy as np

                vals = [a.f] if a.name == "value_float" else list(a.floats)
                arr = np.array(vals if a.name == "value_floats" else vals[0], np.float32)
                a.CopyFrom(helper.make_attribute("value", numpy_helper.from_array(_fp16_array(arr))))
        if node.op_type == "ConstantOfShape" and not node.attribute:
            out.attribute.append(helper.make_attribute("value", helper.make_tensor("value", HALF, [1], [1.0])))
        return out

    def tensor_type(t):
        return new_type.get(t, types.get(t))

    for i, node in enumerate(nodes):
        if node.op_type in _CONST_OPS and node.output[0] in new_type:
            o = node.output[0]
            new_nodes.append(retype_const(node, new_type[o] == HALF))
            if o in twin:
                new_nodes.append(retype_const(node, True, suffix="__fp16"))
            continue
        out = onnx.NodeProto()
        out.CopyFrom(node)
        for p, t in enumerate(node.input):
            if not t or tensor_type(t) not in (FLOAT, HALF):
                continue
            need = required(i, p, t)
            have = tensor_type(t)
            if need is None or need == have:
                continue
            out.input[p] = twin[t] if t in twin and need == HALF else cast(t, need)
        if node.op_type == "Cast":
            to = helper.get_node_attr_value(node, "to")
            if to == FLOAT and domain[i] == HALF:
                for a in out.attribute:
                    if a.name == "to":
                        a.i = HALF
        new_nodes.append(out)

    # Graph outputs: the declared type (float16 unless keep_io_types).
    for name, want in want_out.items():
        if tensor_type(name) == want:
            continue
        raw = f"{name}__raw"
        for n in new_nodes:
            for k, o in enumerate(n.output):
                if o == name:
                    n.output[k] = raw
            for k, t in enumerate(n.input):
                if t == name:
                    n.input[k] = raw
        new_type[raw] = tensor_type(name)
        new_nodes.append(helper.make_node("Cast", [raw], [name], to=want, name=f"{name}__cast_out"))

    m = onnx.ModelProto()
    m.CopyFrom(model)
    mg = m.graph
    del mg.node[:]
    mg.node.extend(new_nodes)
    del mg.value_info[:]
    inits = []
    for init in g.initializer:
        if init.data_type == FLOAT and new_type.get(init.name) == HALF:
            inits.append(_tensor_fp16(init))
        else:
            inits.append(init)
            if init.name in twin:
                tw = _tensor_fp16(init)
                tw.name = twin[init.name]
                inits.append(tw)
    del mg.initializer[:]
    mg.initializer.extend(inits)
    for vi in mg.input:
        if is_float(vi.name) and new_type[vi.name] == HALF:
            vi.type.tensor_type.elem_type = HALF
    for vi in mg.output:
        if vi.name in want_out:
            vi.type.tensor_type.elem_type = want_out[vi.name]
    assert not (out_names - {o for n in mg.node for o in n.output} - {i.name for i in mg.input})
    return onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)


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
    from onnx import TensorProto

    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    model = onnx.shape_inference.infer_shapes(model)
    types = _elem_types(model)
    skip = {"Cast", "Constant", "ConstantOfShape", "Shape", "Size"}

    def f32(n):
        fixed = _FLOAT32_INPUTS.get(n.op_type, ())
        ins = [t for p, t in enumerate(n.input) if p not in fixed]
        return any(types.get(t) == TensorProto.FLOAT for t in (*ins, *n.output) if t)
    return [n for n in model.graph.node if n.op_type not in skip and f32(n)]


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

    spec = MODELS[name]
    src, src_entry = verified_onnx(spec.name)
    path = fp16_path(spec.name)
    key = f"{spec.name}.fp16"
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


# --------------------------------------------------------------------------- IO binding

_GPU_EPS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
_NP_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(bool)": "bool",
             "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(double)": "float64"}


class BoundRunner:
    """Runs an ``onnxruntime.InferenceSession`` with IO binding.

    ``run(feed)`` binds each input (a numpy array is converted to the dtype the graph
    declares, e.g. float32 -> float16 for an fp16 graph, then bound directly on the CPU or
    copied to the device once; an ``OrtValue`` from :meth:`upload` is bound as it is, no
    copy), binds every output on the session's device, runs, and copies each output back
    once. Results are the arrays ``session.run(None, feed)`` returns, in output order.

    device: ``"cpu"`` or ``"cuda"``; by default "cuda" when the session's first provider is
        the CUDA or TensorRT EP, else "cpu". device_id: by default the provider's
        ``device_id`` option (0).

    Thread safety: every call makes its own IOBinding (IOBinding objects are not
    thread-safe), so one runner may be called from several threads at once, like
    ``session.run``; OrtValues from :meth:`upload` are read-only and may be shared.
    """

    def __init__(self, session, device: str | None = None, device_id: int | None = None,
                 cpu_inputs: tuple[str, ...] = ()):
        self.session = session
        # Inputs that stay in host memory: values the provider reads on the host anyway (the
        # pads of Pad, the scale that sizes Resize), so no upload and no copy back.
        self.cpu_inputs = frozenset(cpu_inputs)
        providers = session.get_providers()
        first = providers[0] if providers else "CPUExecutionProvider"
        self.device = device or ("cuda" if first in _GPU_EPS else "cpu")
        if device_id is None:
            opts = session.get_provider_options().get(first, {}) if hasattr(session, "get_provider_options") else {}
            device_id = int(opts.get("device_id", 0) or 0)
        self.device_id = int(device_id)
        self.input_dtypes = {i.name: _NP_TYPES.get(i.type) for i in session.get_inputs()}
        self.output_names = [o.name for o in session.get_outputs()]

    def _host(self, name: str, arr):
        import numpy as np

        if name not in self.input_dtypes:
            raise KeyError(f"the graph has no input {name!r} (inputs: {list(self.input_dtypes)})")
        return np.ascontiguousarray(arr, dtype=self.input_dtypes[name])

    def upload(self, arr, name: str | None = None):
        """Copy ``arr`` (numpy) to the session's device once and return the ``OrtValue``;
        bind it in several :meth:`run` calls (e.g. a source frame used by two pairs). With
        ``name`` the array is first converted to the dtype of that graph input."""
        import numpy as np
        import onnxruntime as ort

        a = self._host(name, arr) if name else np.ascontiguousarray(arr)
        return ort.OrtValue.ortvalue_from_numpy(a, self.device, self.device_id)

    def run(self, feed: dict, to_host: bool = True) -> list:
        """Run once. feed: {input name: numpy array or OrtValue}. Returns a list of numpy
        arrays in the session's output order, or with ``to_host=False`` the outputs as
        ``OrtValue``s left on the session's device (inputs for another run). Raises KeyError
        for an unknown input name, TypeError for an OrtValue of the wrong element type, and
        what ORT raises."""
        import onnxruntime as ort

        binding = self.session.io_binding()
        keep = []  # host arrays must outlive the run
        for name, value in feed.items():
            if isinstance(value, ort.OrtValue):
                want = self.input_dtypes.get(name)
                if name not in self.input_dtypes:
                    raise KeyError(f"the graph has no input {name!r} (inputs: {list(self.input_dtypes)})")
                got = _NP_TYPES.get(value.data_type())
                if got != want:
                    raise TypeError(f"input {name!r} is {want}, the OrtValue holds {got}")
                binding.bind_ortvalue_input(name, value)
                continue
            arr = self._host(name, value)
            if self.device == "cpu" or name in self.cpu_inputs:
                keep.append(arr)
                binding.bind_cpu_input(name, arr)
            else:
                dev = ort.OrtValue.ortvalue_from_numpy(arr, self.device, self.device_id)
                keep.append(dev)
                binding.bind_ortvalue_input(name, dev)
        for name in self.output_names:
            binding.bind_output(name, self.device, self.device_id)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu() if to_host else binding.get_outputs()


def static_model(model, scale: float):
    """A copy of a vsvfi network graph (``onnx.ModelProto``) whose ``scale`` input is the
    constant ``scale`` (float32 (1,) initializer). Run with the ``batch``, ``height`` and
    ``width`` dimensions fixed (:func:`fix_dimensions`), ONNX Runtime's constant folding then
    removes all the shape arithmetic (Shape, Gather, Unsqueeze, ConstantOfShape, the CumSum
    pixel grids): rife46 fp32 goes from 648 to 387 nodes after ORT's basic optimisations, and
    none left is one the CUDA provider keeps on the CPU (docs/gpu.md). Same results (fp32:
    bit for bit; fp16: folded constants may round a float16 step differently)."""
    import numpy as np
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
    (``onnxruntime.SessionOptions``): batch (frames), height and width (padded pixels)."""
    for name, value in (("batch", batch), ("height", height), ("width", width)):
        options.add_free_dimension_override_by_name(name, int(value))


def pad_model(in_dtype: str, out_dtype: str):
    """A one-node-pair ONNX graph that pads and casts a frame batch where it already is (on the
    GPU: no host pass over the pixels): input ``x`` (N, C, H, W) of ``in_dtype`` ("float32"
    or "float16"), input ``pads`` int64 (8,) in ONNX Pad order (begin of each axis, then
    end); output ``y`` = Cast(Pad(x, pads, mode="edge"), out_dtype), what
    :func:`vsvfi.engine.pad_batch` computes on the host."""
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


# --------------------------------------------------------------------------- providers

def cuda_provider_options(device_index: int = 0, *, conv_algo_search: str = "EXHAUSTIVE",
                          arena_extend_strategy: str = "kSameAsRequested", tf32: bool = True,
                          gpu_mem_limit: int | None = None, nhwc: bool = False) -> dict[str, str]:
    """Options for ``("CUDAExecutionProvider", options)``, all values strings.

    device_index: the CUDA device (``device_id``).
    conv_algo_search: cuDNN convolution algorithm choice. "EXHAUSTIVE" (ORT's default, what
        vs-mlrt uses) benchmarks every algorithm once per new input shape: the first frame
        of a size (and the first ensemble batch) is slow, later ones fastest. A clip has one
        padded size, so that cost is paid once or twice. "HEURISTIC" starts faster and may
        run slower; "DEFAULT" is cuDNN's default algorithm.
    arena_extend_strategy: "kSameAsRequested" grows the memory arena by exactly what a
        request needs; ORT's default "kNextPowerOfTwo" can reserve almost twice the memory
        of one 1080p/4K batch, and the shapes repeat from frame to frame anyway.
    tf32: TF32 tensor-core math for float32 convolutions (Ampere and later); it does not
        touch the fp16 graph, and the warp's coordinates are not convolutions.
    gpu_mem_limit: bytes of the arena, None for no limit.
    nhwc: ``prefer_nhwc`` (channels-last convolution kernels); off by default, untested.
    """
    opts = {
        "device_id": str(int(device_index)),
        "cudnn_conv_algo_search": conv_algo_search,
        "arena_extend_strategy": arena_extend_strategy,
        "do_copy_in_default_stream": "1",
        "use_tf32": "1" if tf32 else "0",
    }
    if gpu_mem_limit is not None:
        opts["gpu_mem_limit"] = str(int(gpu_mem_limit))
    if nhwc:
        opts["prefer_nhwc"] = "1"
    return opts


def trt_cache_dir() -> Path:
    """Directory of the TensorRT engine and timing caches: ``$VSVFI_TRT_CACHE``, else
    ``$XDG_CACHE_HOME/vsvfi/tensorrt``, else ``~/.cache/vsvfi/tensorrt``."""
    env = os.environ.get("VSVFI_TRT_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "vsvfi" / "tensorrt"


def trt_profile(height: int, width: int, ensemble: bool = False, max_batch: int = 2):
    """(min, opt, max) shapes ``(batch, height, width)`` for a clip whose padded frame is
    ``height`` x ``width``: batch 1 to ``max_batch`` (2 covers ensemble, which runs the
    time-reversed pair in the same batch), optimised for 2 with ensemble, else 1."""
    return (1, height, width), (min(2, max_batch) if ensemble else 1, height, width), (max_batch, height, width)


def _profile_string(shape) -> str:
    n, h, w = (int(v) for v in shape)
    return f"img0:{n}x3x{h}x{w},img1:{n}x3x{h}x{w},timestep:{n}x1x1x1,scale:1"


def tensorrt_provider_options(device_index: int = 0, cache_dir: Path | str | None = None,
                              min_shape=None, opt_shape=None, max_shape=None, *, engine_key: str = "",
                              optimization_level: int = 3, workspace_bytes: int | None = None,
                              aux_streams: int | None = None, fp16_flag: bool = False) -> dict[str, str]:
    """Options for ``("TensorrtExecutionProvider", options)``, all values strings.

    device_index: the CUDA device. cache_dir: default :func:`trt_cache_dir`.
    min_shape, opt_shape, max_shape: ``(batch, height, width)`` of the padded frames
        (:func:`trt_profile` makes them from the clip); they become the explicit
        ``trt_profile_{min,opt,max}_shapes`` strings for all four inputs, e.g.
        ``img0:1x3x736x1280,img1:1x3x736x1280,timestep:1x1x1x1,scale:1``. With none given
        ORT builds for the shapes it sees and rebuilds when a new one arrives.
    engine_key: a sub-directory for this graph's engines, e.g. the fp16 file's sha256:
        ORT names its engine files from the graph's structure, not its weights, so a
        re-exported model with other weights must not find the old engine.
    optimization_level: ``trt_builder_optimization_level`` (0-5, TensorRT's default 3;
        lower builds faster). workspace_bytes: ``trt_max_workspace_size``. aux_streams:
        ``trt_auxiliary_streams``.
    fp16_flag: ``trt_fp16_enable``. Off: precision comes from the fp16 graph (TensorRT 11
        removed the builder flag; networks are strongly typed). Set it only when a
        TensorRT 10 builder refuses the fp16 graph ("fp16 precision has been set ... but
        fp16 is not configured"); the weakly typed TensorRT 10 builder may then also run
        the graph's float32 islands in float16 (see docs/gpu.md).

    Engines go to ``cache_dir/engines/<engine_key>``, the timing cache (shared by every
    model: it holds per-layer timings) to ``cache_dir/timing``. Directories are created.
    """
    root = Path(cache_dir) if cache_dir is not None else trt_cache_dir()
    engines = root / "engines" / engine_key if engine_key else root / "engines"
    timing = root / "timing"
    engines.mkdir(parents=True, exist_ok=True)
    timing.mkdir(parents=True, exist_ok=True)
    opts = {
        "device_id": str(int(device_index)),
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(engines),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(timing),
        "trt_builder_optimization_level": str(int(optimization_level)),
    }
    shapes = (min_shape, opt_shape, max_shape)
    if any(s is not None for s in shapes):
        if any(s is None for s in shapes):
            raise ValueError("give all of min_shape, opt_shape and max_shape, or none")
        for a, b in zip(shapes, shapes[1:]):
            if any(int(x) > int(y) for x, y in zip(a, b)):
                raise ValueError(f"shapes must grow from min to opt to max: {shapes}")
        for key, s in zip(("min", "opt", "max"), shapes):
            opts[f"trt_profile_{key}_shapes"] = _profile_string(s)
    if workspace_bytes is not None:
        opts["trt_max_workspace_size"] = str(int(workspace_bytes))
    if aux_streams is not None:
        opts["trt_auxiliary_streams"] = str(int(aux_streams))
    if fp16_flag:
        opts["trt_fp16_enable"] = "True"
    return opts

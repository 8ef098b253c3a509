"""The GPU path on a CPU-only machine: the fp16 graphs (structure, float32 islands, accuracy on
real frames with the CPU EP, the manifest cache), IO binding on the CPU EP, and the provider
option builders. CUDA/TensorRT timings and accuracy: scripts/gpu_check.py on a GPU."""

import json
import mmap
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import vapoursynth as vs
from onnx import TensorProto, helper

from vsvfi.runtime import binding, fp16, fp16_passes, graphs, providers
from vsvfi.frames import frame_array
from vsvfi.models import read_manifest, sha256_of, verified_onnx, write_manifest_entry

core = vs.core
FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A private model directory holding copies of the exported files and their manifest
    entries (the fp16 files and entries made here never touch models/)."""
    d = tmp_path_factory.mktemp("models")
    manifest = {}
    for name in ("rife46", "rife39"):
        path, entry = verified_onnx(name)
        shutil.copy(path, d / path.name)
        manifest[name] = entry
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


@pytest.fixture
def in_model_dir(model_dir, monkeypatch):
    monkeypatch.setenv("VSVFI_MODEL_DIR", str(model_dir))
    return model_dir


@pytest.fixture(scope="module")
def fp16_models(model_dir):
    """{name: (fp16 path, loaded fp16 ModelProto)} made with fp16_onnx in the private dir."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VSVFI_MODEL_DIR", str(model_dir))
    try:
        paths = {name: fp16.fp16_onnx(name) for name in ("rife46", "rife39")}
    finally:
        mp.undo()
    return {name: (p, onnx.load(str(p))) for name, p in paths.items()}


def _types(model) -> dict[str, int]:
    model = onnx.shape_inference.infer_shapes(model)
    return fp16_passes._elem_types(model)


@pytest.mark.parametrize("name", ["rife46", "rife39"])
def test_fp16_graph_is_valid_and_keeps_the_warp_fp32(model_dir, fp16_models, name):
    path, m = fp16_models[name]
    onnx.checker.check_model(m, full_check=True)  # includes strict shape and type inference
    src_path = model_dir / f"{name}.onnx"
    src = onnx.load(str(src_path))
    assert len(m.graph.node) > len(src.graph.node)  # Casts were added, nothing dropped
    types = _types(m)
    # One sampler per backward warp, whichever formulation the exporter wrote.
    warps = [n for n in m.graph.node if n.op_type == "GridSample"
             or (n.op_type in ("Gather", "GatherElements") and types[n.input[0]] in (FLOAT, HALF))]
    from vsvfi.export.ops import EXPORT_WARP, GRID_BANDS

    per_warp = GRID_BANDS if EXPORT_WARP == "gridsample_banded" else 1  # one sampler per row band
    assert len(warps) == {"rife46": 8, "rife39": 16}[name] * per_warp
    for n in warps:
        if n.op_type == "GridSample":  # ORT's CUDA GridSample kernel is float32-only
            assert [types[t] for t in (*n.input, *n.output)] == [FLOAT] * 3, n.name
    producer = {o: n for n in m.graph.node for o in n.output}
    for n in warps:  # the coordinate arithmetic back to the pixel grid (CumSum) is float32
        stack, seen = [n.input[1]], set()
        while stack:
            p = producer.get(stack.pop())
            if p is None or p.name in seen or p.op_type in ("Constant", "CumSum", "Shape"):
                continue
            if p.op_type == "Cast" and types[p.input[0]] == HALF:
                continue  # where a float16 value (the flow) enters the island
            seen.add(p.name)
            assert all(types[o] == FLOAT for o in p.output if types.get(o) in (FLOAT, HALF)), (p.op_type, p.name)
            stack.extend(p.input)
        assert len(seen) >= 5  # e.g. Transpose, Concat, Sub, Mul, Add
    islands = fp16.fp32_islands(m)
    assert {"CumSum", "Add", "Mul"} <= islands
    assert ("GridSample" in islands) == any(n.op_type == "GridSample" for n in warps)
    assert not islands & {"Conv", "ConvTranspose", "LeakyRelu", "PRelu", "Resize", "Sigmoid", "DepthToSpace"}
    # Every convolution runs in float16 and every float weight is float16.
    convs = [n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    assert convs and all(types[t] == HALF for n in convs for t in (*n.input, *n.output) if t)
    float_inits = [i for i in m.graph.initializer if i.data_type in (FLOAT, HALF)]
    assert sum(i.data_type == HALF for i in float_inits) == sum(
        i.data_type == FLOAT for i in src.graph.initializer)
    assert all(i.data_type == HALF for i in float_inits)
    assert path.stat().st_size < 0.55 * src_path.stat().st_size
    io = {v.name: v.type.tensor_type.elem_type for v in (*m.graph.input, *m.graph.output)}
    assert io["img0"] == io["img1"] == io["timestep"] == io["frame"] == HALF and io["scale"] == FLOAT


@pytest.fixture(scope="module")
def frames(bikes):
    """Frames 40/41 of bikes as float32 (1, 3, 288, 640) RGB (rife39: 320 rows)."""
    def get(h):
        rgb = core.resize.Bicubic(bikes, 640, h, format=vs.RGBS, matrix_in_s="170m")
        return frame_array(rgb.get_frame(40))[None], frame_array(rgb.get_frame(41))[None]
    return get


def _session(model):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 2
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name, h", [("rife46", 288), ("rife39", 320)])
def test_fp16_graph_runs_on_cpu_close_to_fp32(model_dir, fp16_models, frames, wide_frames, name, h):
    # The CPU EP runs the fp16 graph: nodes without a float16 CPU kernel get float32 casts
    # around them, so tensors between nodes are float16 as on the GPU.
    # Measured (bikes 40/41, t = 0.3): max |fp16 - fp32| 0.0018 (rife46) / 0.0025 (rife39),
    # mean 7e-5 / 8e-5. The same graph with the grid arithmetic in float16 (the closure
    # turned off) gives max 0.026 / 0.048, mean 2.7e-4 / 3.0e-4: the islands are needed even
    # below 2048 px, since the normalised grid (-1..1) in float16 resolves only W/4096 px.
    a, b = frames(h)
    t = np.full((1, 1, 1, 1), 0.3, np.float32)
    scale = np.ones(1, np.float32)
    ref = _session(model_dir / f"{name}.onnx").run(None, {"img0": a, "img1": b, "timestep": t, "scale": scale})
    feed16 = {"img0": a.astype(np.float16), "img1": b.astype(np.float16), "timestep": t.astype(np.float16),
              "scale": scale}
    got = _session(fp16_models[name][0]).run(None, feed16)
    assert got[0].dtype == np.float16 and got[0].shape == (1, 3, h, 640)
    err = np.abs(got[0].astype(np.float32) - ref[0])
    assert err.max() < 0.006 and err.mean() < 2e-4, (err.max(), err.mean())
    if name == "rife39":
        assert got[1].tolist() == ref[1].tolist() == [False]
    else:  # x coordinates up to 2559: beyond float16's exact integers (2048)
        a, b = wide_frames
        ref_w = _session(model_dir / f"{name}.onnx").run(None, {"img0": a, "img1": b, "timestep": t, "scale": scale})[0]
        got_w = _session(fp16_models[name][0]).run(None, {**feed16, "img0": a.astype(np.float16),
                                                          "img1": b.astype(np.float16)})[0]
        err_w = np.abs(got_w.astype(np.float32) - ref_w)
        assert err_w.max() < 0.01 and err_w.mean() < 2e-4, (err_w.max(), err_w.mean())
    if name == "rife46":
        naive = fp16.convert_fp16(onnx.load(str(model_dir / f"{name}.onnx")), coord_sources=())
        err_naive = np.abs(_session(naive).run(None, feed16)[0].astype(np.float32) - ref[0])
        assert err_naive.max() > 5 * err.max() and err_naive.mean() > 2 * err.mean()


@pytest.fixture(scope="module")
def wide_frames(bikes):
    """Frames 40/41 of bikes stretched to float32 (1, 3, 64, 2560): x coordinates up to 2559."""
    rgb = core.resize.Bicubic(bikes, 2560, 64, format=vs.RGBS, matrix_in_s="170m")
    return frame_array(rgb.get_frame(40))[None], frame_array(rgb.get_frame(41))[None]


@pytest.fixture(scope="module")
def rife46_net():
    pytest.importorskip("torch")
    from vsvfi.export import build

    return build("rife46")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("form", ["gridsample", "gridsample_fast", "gather"])
def test_fp16_islands_cover_every_warp_formulation(form, rife46_net, frames, wide_frames):
    # The exporter can write the backward warp as GridSample on a normalised grid, as
    # GridSample on clamped pixel positions, or as a Gather of 4-neighbour rows with explicit
    # bilinear weights (vsvfi.export.ops.WARP_FORMULATIONS); the exported files (tested
    # above) use ops.EXPORT_WARP. The same rules keep each one's coordinates float32.
    # Measured (rife46, t = 0.3): max |fp16 - fp32| 0.0015-0.0019 at 640x288 and 0.0048 at
    # 2560x64 for all three forms; with the coordinate closure off: max 0.08-0.09 at 640x288,
    # and at 2560x64 0.45 (gridsample_fast) or an out-of-range Gather index (gather:
    # W - 1 = 2559 becomes 2560 in float16).
    from vsvfi.export import ops, to_onnx

    if not hasattr(ops, "export_warp"):
        pytest.skip("this exporter has a single warp formulation")
    if form == getattr(ops, "EXPORT_WARP", "gridsample"):
        pytest.skip(f"{form} is the exported files' formulation, tested above")
    with ops.export_warp(form):
        model = to_onnx(rife46_net, "rife46")
    m16 = fp16.convert_fp16(model)
    onnx.checker.check_model(m16, full_check=True)
    islands = fp16.fp32_islands(m16)
    assert "CumSum" in islands and not islands & {"Conv", "ConvTranspose", "LeakyRelu", "Resize"}
    assert ("GridSample" in islands) == (form != "gather")
    s32, s16 = _session(model), _session(m16)
    t, scale = np.full((1, 1, 1, 1), 0.3, np.float32), np.ones(1, np.float32)
    errs = []
    for a, b in (frames(288), wide_frames):
        ref = s32.run(None, {"img0": a, "img1": b, "timestep": t, "scale": scale})[0]
        feed16 = {"img0": a.astype(np.float16), "img1": b.astype(np.float16), "timestep": t.astype(np.float16),
                  "scale": scale}
        err = np.abs(s16.run(None, feed16)[0].astype(np.float32) - ref)
        assert err.max() < 0.01 and err.mean() < 2e-4, (a.shape, err.max(), err.mean())
        errs.append((err, feed16, ref))
    err, feed16, ref = errs[0]
    naive = _session(fp16.convert_fp16(model, coord_sources=()))
    err_naive = np.abs(naive.run(None, feed16)[0].astype(np.float32) - ref)
    assert err_naive.max() > 10 * err.max() and err_naive.mean() > 3 * err.mean()


def _gather_warp_graph(h: int, w: int, c: int = 3) -> onnx.ModelProto:
    """A bilinear backward warp written with GatherElements (the form another exporter may
    use instead of GridSample): pixel grid from CumSum, x = clamp(grid + flow), floor,
    fractional weights, int64 indices y*W + x, four gathers, weighted sum.
    Inputs img (1, c, h, w), flow (1, 2, h, w) float32; output warped (1, c, h, w)."""
    n = helper.make_node

    def const(name, arr):
        return n("Constant", [], [name], value=onnx.numpy_helper.from_array(np.asarray(arr), name))

    nodes = [
        const("i0", np.array([0], np.int64)), const("i1", np.array([1], np.int64)),
        const("i2", np.array([2], np.int64)), const("i3", np.array([3], np.int64)),
        const("i4", np.array([4], np.int64)), const("ax2", np.array(2, np.int64)), const("ax3", np.array(3, np.int64)),
        const("one", np.array(1.0, np.float32)), const("zero", np.array(0.0, np.float32)),
        const("one_i", np.array(1, np.int64)),
        n("Shape", ["flow"], ["shp"]),
        n("Slice", ["shp", "i2", "i3"], ["H"]), n("Slice", ["shp", "i3", "i4"], ["W"]),
        const("ones3", np.array([1, 1, 1], np.int64)), const("ones2", np.array([1, 1], np.int64)),
        n("Concat", ["ones3", "W"], ["rowshape"], axis=0), n("Concat", ["ones2", "H", "i1"], ["colshape"], axis=0),
        n("ConstantOfShape", ["rowshape"], ["row"], value=helper.make_tensor("v", FLOAT, [1], [1.0])),
        n("ConstantOfShape", ["colshape"], ["col"], value=helper.make_tensor("v", FLOAT, [1], [1.0])),
        n("CumSum", ["row", "ax3"], ["xs1"]), n("CumSum", ["col", "ax2"], ["ys1"]),
        n("Sub", ["xs1", "one"], ["xs"]), n("Sub", ["ys1", "one"], ["ys"]),
        n("Sub", ["W", "one_i"], ["Wm1_i"]), n("Sub", ["H", "one_i"], ["Hm1_i"]),
        n("Cast", ["Wm1_i"], ["Wm1"], to=FLOAT), n("Cast", ["Hm1_i"], ["Hm1"], to=FLOAT),
        n("Slice", ["flow", "i0", "i1", "i1"], ["fx"]), n("Slice", ["flow", "i1", "i2", "i1"], ["fy"]),
        n("Add", ["xs", "fx"], ["x_raw"]), n("Add", ["ys", "fy"], ["y_raw"]),
        n("Max", ["x_raw", "zero"], ["x_lo"]), n("Min", ["x_lo", "Wm1"], ["x"]),
        n("Max", ["y_raw", "zero"], ["y_lo"]), n("Min", ["y_lo", "Hm1"], ["y"]),
        n("Floor", ["x"], ["x0"]), n("Floor", ["y"], ["y0"]),
        n("Sub", ["x", "x0"], ["wx"]), n("Sub", ["y", "y0"], ["wy"]),
        n("Add", ["x0", "one"], ["x1_raw"]), n("Min", ["x1_raw", "Wm1"], ["x1"]),
        n("Add", ["y0", "one"], ["y1_raw"]), n("Min", ["y1_raw", "Hm1"], ["y1"]),
        n("Sub", ["one", "wx"], ["ux"]), n("Sub", ["one", "wy"], ["uy"]),
        const("flat", np.array([1, c, h * w], np.int64)), const("flat1", np.array([1, 1, h * w], np.int64)),
        const("full", np.array([1, c, h, w], np.int64)),
        n("Reshape", ["img", "flat"], ["img_flat"]),
    ]
    terms = []
    corners = (("y0", "x0", "uy", "ux"), ("y0", "x1", "uy", "wx"), ("y1", "x0", "wy", "ux"), ("y1", "x1", "wy", "wx"))
    for yy, xx, wy, wx in corners:
        k = f"{yy}{xx}"
        nodes += [
            n("Cast", [yy], [f"{k}_yi"], to=TensorProto.INT64), n("Cast", [xx], [f"{k}_xi"], to=TensorProto.INT64),
            n("Mul", [f"{k}_yi", "W"], [f"{k}_yw"]), n("Add", [f"{k}_yw", f"{k}_xi"], [f"{k}_idx"]),
            n("Reshape", [f"{k}_idx", "flat1"], [f"{k}_idx1"]), n("Expand", [f"{k}_idx1", "flat"], [f"{k}_idxc"]),
            n("GatherElements", ["img_flat", f"{k}_idxc"], [f"{k}_v"], axis=2),
            n("Reshape", [f"{k}_v", "full"], [f"{k}_vv"]),
            n("Mul", [wy, wx], [f"{k}_w"]), n("Mul", [f"{k}_vv", f"{k}_w"], [f"{k}_t"]),
        ]
        terms.append(f"{k}_t")
    nodes += [n("Add", terms[:2], ["s01"]), n("Add", terms[2:], ["s23"]), n("Add", ["s01", "s23"], ["warped"])]
    graph = helper.make_graph(
        nodes, "gather_warp",
        [helper.make_tensor_value_info("img", FLOAT, [1, c, h, w]),
         helper.make_tensor_value_info("flow", FLOAT, [1, 2, h, w])],
        [helper.make_tensor_value_info("warped", FLOAT, [1, c, h, w])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def test_gather_warp_coordinates_stay_fp32_beyond_2048px():
    # x = 3000.37 is 3000 in float16 (spacing 2 between 2048 and 4096): a float16 grid would
    # lose the sub-pixel shift (and whole pixels above 2048). The coordinate closure keeps
    # Floor, the weights and the index arithmetic float32; the gathers move float16 pixels.
    h, w = 2, 4096
    model = _gather_warp_graph(h, w)
    rng = np.random.default_rng(1)
    img = rng.random((1, 3, h, w), np.float32)
    flow = np.zeros((1, 2, h, w), np.float32)
    flow[:, 0] = 0.37
    x = np.minimum(np.arange(w) + 0.37, w - 1)
    x0 = np.floor(x).astype(int)
    x1 = np.minimum(x0 + 1, w - 1)
    ref = img[..., x0] * (1 - (x - x0)) + img[..., x1] * (x - x0)
    got32 = _session(model).run(None, {"img": img, "flow": flow})[0]
    assert np.abs(got32 - ref).max() < 5e-4  # a correct warp (float32 x spacing near 4096: 4.9e-4)
    m16 = fp16.convert_fp16(model)
    onnx.checker.check_model(m16, full_check=True)
    types = _types(m16)
    assert all(types[t] == FLOAT for t in ("x", "x0", "wx", "ux", "y0x1_w"))
    assert all(types[t] == HALF for t in ("img", "img_flat", "y0x0_v", "y0x0_t", "warped"))
    assert {"Floor", "Min", "Max", "CumSum"} <= fp16.fp32_islands(m16)
    feed16 = {"img": img.astype(np.float16), "flow": flow.astype(np.float16)}
    err = np.abs(_session(m16).run(None, feed16)[0].astype(np.float32) - ref)
    assert err.max() < 2e-3  # float16 pixel values and weights only
    # With the coordinates in float16 the clamp bound W - 1 = 4095 becomes 4096 and the
    # last column's index points past the row: the warp does not even run.
    naive = fp16.convert_fp16(model, coord_sources=())
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.Fail, match="Out of range value in index"):
        _session(naive).run(None, feed16)


def test_fp16_file_is_cached_and_remade_when_the_fp32_file_changes(in_model_dir, fp16_models):
    path = fp16.fp16_onnx("rife46")  # made by the fixture: cached now
    entry = read_manifest()["rife46.fp16"]
    src_entry = read_manifest()["rife46"]
    assert entry["sha256"] == sha256_of(path) and entry["source_sha256"] == src_entry["sha256"]
    assert entry["converter"] == fp16.CONVERTER and entry["file"] == "rife46.fp16.onnx"
    stat = path.stat()
    assert fp16.fp16_onnx("rife46") == path
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)  # not rewritten
    # A re-export: new fp32 bytes and manifest sha256 -> the fp16 file is made again.
    src = in_model_dir / "rife46.onnx"
    model = onnx.load(str(src))
    helper.set_model_props(model, {"re-exported": "yes"})
    onnx.save(model, str(src))
    write_manifest_entry("rife46", {**src_entry, "sha256": sha256_of(src)})
    path2 = fp16.fp16_onnx("rife46")
    entry2 = read_manifest()["rife46.fp16"]
    assert entry2["source_sha256"] == sha256_of(src) != entry["source_sha256"]
    assert entry2["sha256"] == sha256_of(path2) != entry["sha256"]
    assert {p.key: p.value for p in onnx.load(str(path2)).metadata_props}.get("re-exported") == "yes"
    # A damaged fp16 file does not match its entry: made again.
    path2.write_bytes(b"broken")
    assert sha256_of(fp16.fp16_onnx("rife46")) == entry2["sha256"]
    assert not list(in_model_dir.glob("*.part"))


@pytest.fixture(scope="module")
def cpu_session(model_dir):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(model_dir / "rife46.onnx"), so, providers=["CPUExecutionProvider"])


def _feed(seed, h=64, w=96, n=1):
    rng = np.random.default_rng(seed)
    img = rng.random((n, 3, h // 4, w // 4), np.float32).repeat(4, 2).repeat(4, 3)
    return {"img0": img, "img1": np.roll(img, seed % 5 + 1, axis=3), "scale": np.ones(1, np.float32),
            "timestep": np.full((n, 1, 1, 1), 0.1 + 0.1 * (seed % 8), np.float32)}


def test_bound_runner_matches_session_run_bit_for_bit(cpu_session):
    runner = binding.BoundRunner(cpu_session)
    assert (runner.device, runner.device_id, runner.output_names) == ("cpu", 0, ["frame", "disagreement"])
    feed = _feed(3, n=2)
    ref = cpu_session.run(None, feed)
    got = runner.run(feed)
    assert len(got) == 2 and got[0].dtype == np.float32 and got[0].shape == (2, 3, 64, 96)
    assert got[1].shape == (2, 1, 8, 12)  # one value per 8x8 block
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
    # A frame uploaded once and bound as an OrtValue in two runs (img1 of one pair, img0 of the next).
    shared = runner.upload(feed["img1"], "img1")
    assert np.array_equal(runner.run({**feed, "img1": shared})[0], ref[0])
    nxt = {**_feed(4, n=2), "img0": shared}
    assert np.array_equal(runner.run(nxt)[0], cpu_session.run(None, {**nxt, "img0": feed["img1"]})[0])
    with pytest.raises(TypeError):
        runner.run({**feed, "img0": runner.upload(feed["img0"].astype(np.float64))})
    with pytest.raises(KeyError):
        runner.run({**feed, "img2": feed["img0"]})


def test_bound_runner_from_four_threads(cpu_session):
    runner = binding.BoundRunner(cpu_session)
    feeds = [_feed(s) for s in range(8)]
    refs = [cpu_session.run(None, f)[0] for f in feeds]
    barrier = threading.Barrier(4)

    def job(i):
        if i < 4:
            barrier.wait()  # the first four start together
        return runner.run(feeds[i])[0]

    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(job, range(8)))
    assert all(np.array_equal(o, r) for o, r in zip(outs, refs))
    assert len({o.tobytes() for o in outs}) == 8  # eight different results, none swapped


def test_bound_runner_casts_numpy_inputs_for_an_fp16_graph(fp16_models):
    sess = _session(fp16_models["rife46"][0])
    runner = binding.BoundRunner(sess)
    feed = _feed(5)
    ref = sess.run(None, {k: (v if k == "scale" else v.astype(np.float16)) for k, v in feed.items()})
    got = runner.run(feed)  # float32 arrays: converted to the graph's float16 once
    assert got[0].dtype == np.float16 and np.array_equal(got[0], ref[0])


def test_trt_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VSVFI_TRT_CACHE", str(tmp_path / "trt"))
    assert providers.trt_cache_dir() == tmp_path / "trt"
    monkeypatch.delenv("VSVFI_TRT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert providers.trt_cache_dir() == tmp_path / "xdg" / "vsvfi" / "tensorrt"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert providers.trt_cache_dir() == tmp_path / "home" / ".cache" / "vsvfi" / "tensorrt"


def test_tensorrt_options(monkeypatch, tmp_path):
    monkeypatch.setenv("VSVFI_TRT_CACHE", str(tmp_path / "trt"))
    lo, opt, hi = providers.trt_profile(736, 1280, ensemble=True)
    assert (lo, opt, hi) == ((1, 736, 1280), (2, 736, 1280), (2, 736, 1280))
    assert providers.trt_profile(736, 1280)[1] == (1, 736, 1280)
    opts = providers.tensorrt_provider_options(1, None, lo, opt, hi, engine_key="abc123")
    assert opts == {
        "device_id": "1",
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(tmp_path / "trt" / "engines" / "abc123"),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(tmp_path / "trt" / "timing"),
        "trt_builder_optimization_level": "3",
        "trt_profile_min_shapes": "img0:1x3x736x1280,img1:1x3x736x1280,timestep:1x1x1x1,scale:1",
        "trt_profile_opt_shapes": "img0:2x3x736x1280,img1:2x3x736x1280,timestep:2x1x1x1,scale:1",
        "trt_profile_max_shapes": "img0:2x3x736x1280,img1:2x3x736x1280,timestep:2x1x1x1,scale:1",
    }
    assert (tmp_path / "trt" / "engines" / "abc123").is_dir() and (tmp_path / "trt" / "timing").is_dir()
    assert "trt_fp16_enable" not in opts  # precision comes from the fp16 graph
    assert providers.tensorrt_provider_options(0, tmp_path / "c", fp16_flag=True)["trt_fp16_enable"] == "True"
    with pytest.raises(ValueError):
        providers.tensorrt_provider_options(0, tmp_path, (2, 736, 1280), (1, 736, 1280), (2, 736, 1280))
    with pytest.raises(ValueError):
        providers.tensorrt_provider_options(0, tmp_path, lo, None, hi)


def test_cuda_options():
    assert providers.cuda_provider_options(2) == {
        "device_id": "2", "cudnn_conv_algo_search": "EXHAUSTIVE", "arena_extend_strategy": "kSameAsRequested",
        "do_copy_in_default_stream": "1", "use_tf32": "1"}
    opts = providers.cuda_provider_options(0, conv_algo_search="HEURISTIC", tf32=False, gpu_mem_limit=4 << 30, nhwc=True)
    assert opts["cudnn_conv_algo_search"] == "HEURISTIC" and opts["use_tf32"] == "0"
    assert opts["gpu_mem_limit"] == str(4 << 30) and opts["prefer_nhwc"] == "1"


def test_option_names_exist_in_this_onnxruntime_build(tmp_path):
    # ORT rejects an unknown CUDA option at session creation, which cannot happen here
    # without a GPU: check every key against the names compiled into the provider libraries.
    capi = Path(ort.__file__).parent / "capi"
    cuda = set(providers.cuda_provider_options(0, gpu_mem_limit=1, nhwc=True))
    trt = set(providers.tensorrt_provider_options(0, tmp_path, (1, 64, 64), (1, 64, 64), (2, 64, 64), workspace_bytes=1,
                                            aux_streams=1, fp16_flag=True))
    for lib, keys in (("libonnxruntime_providers_cuda.so", cuda), ("libonnxruntime_providers_tensorrt.so", trt)):
        if not (capi / lib).exists():
            pytest.skip(f"{lib} is not part of this onnxruntime build")
        with open(capi / lib, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            missing = [k for k in keys if mm.find(k.encode() + b"\0") < 0]
        assert not missing, (lib, missing)


def test_filter_runs_the_fp16_graph_end_to_end_on_rgbh(in_model_dir, bikes):
    """precision="fp16" through the filter on the CPU EP: an RGBH clip goes into the float16
    graph without a float32 detour and the frame stays within 0.01 of the fp32 path."""
    import vsvfi
    from vsvfi.runtime import get_engine

    rgbh = core.resize.Bicubic(bikes[40:42], format=vs.RGBH, matrix_in_s="170m")
    eng = get_engine("rife46", "cpu", precision="fp16")
    assert eng.precision_used == "fp16" and eng.input_dtype == np.float16
    assert get_engine("rife46", "cpu").precision_used == "fp32"  # auto = fp32 on the CPU
    runs = eng.runs
    half = frame_array(vsvfi.Interpolate(rgbh, provider="cpu", precision="fp16", scene_change=False).get_frame(1))
    full = frame_array(vsvfi.Interpolate(rgbh, provider="cpu", precision="fp32", scene_change=False).get_frame(1))
    assert eng.runs == runs + 1 and half.dtype == np.float16
    diff = np.abs(half.astype(np.float32) - full.astype(np.float32))
    assert diff.max() < 0.01 and diff.mean() < 1e-3


@pytest.mark.parametrize("src, dst", [("float32", "float32"), ("float32", "float16"), ("float16", "float16")])
def test_pad_model_equals_host_padding(src, dst):
    from vsvfi.runtime import pad_batch

    sess = _session(graphs.pad_model(src, dst))
    runner = binding.BoundRunner(sess, cpu_inputs=("pads",))
    rng = np.random.default_rng(1)
    img = rng.random((3, 37, 50), np.float32).astype(src)
    pads = np.array([0, 0, 0, 0, 0, 0, -37 % 32, -50 % 32], np.int64)
    got = runner.run({"x": img[None], "pads": pads})[0]
    want = pad_batch(img, 32, "edge", dst)
    assert got.dtype == np.dtype(dst) and got.shape == (1, 3, 64, 64)
    assert np.array_equal(got, want)
    # to_host=False keeps the result as an OrtValue (on the GPU: left on the device)
    val = runner.run({"x": img[None], "pads": pads}, to_host=False)[0]
    assert isinstance(val, ort.OrtValue) and np.array_equal(val.numpy(), want)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engine_device_pad_equals_host_pad(in_model_dir, fp16_models, frames, precision):
    """The GPU path's pad + cast on the device (here the CPU EP stands in) gives the same
    frames as padding on the host, for both graphs; an ensemble and the pair's host copies
    (made on first use from the frames as given) too."""
    from vsvfi.runtime import RifeEngine

    a, b = (x[0, :, :281, :627] for x in frames(288))  # odd size: both axes padded
    host = RifeEngine("rife46", "cpu", threads=2, precision=precision, device_pad=False)
    dev = RifeEngine("rife46", "cpu", threads=2, precision=precision, device_pad=True)
    assert dev.runners is not None and host.runners is None
    ph, pd = host.prepare(a, b), dev.prepare(a, b)
    assert pd.device is not None and pd.host is None and pd.nbytes == a.nbytes + b.nbytes
    ref = host.synthesize(ph, 0.3)
    got = dev.synthesize(pd, 0.3)
    assert ref.dtype == got.dtype == np.float32 and got.shape == (3, 281, 627)
    assert np.array_equal(got, ref)
    raw = dev.synthesize(pd, 0.3, dtype=None)
    assert raw.dtype == (np.float16 if precision == "fp16" else np.float32)
    assert np.array_equal(raw.astype(np.float32), ref)
    assert np.array_equal(dev.synthesize(pd, 0.3, ensemble=True), host.synthesize(ph, 0.3, ensemble=True))
    assert np.array_equal(pd.img0, ph.img0) and pd.host is not None


def test_cuda_library_preload_keeps_stdout_clean(monkeypatch, capfd):
    """onnxruntime.preload_dlls prints what it cannot load; with vspipe writing video to
    stdout that text would corrupt the stream, so it must land on stderr."""
    from vsvfi.runtime import preload_cuda_libraries

    monkeypatch.setattr(ort, "preload_dlls", lambda: print("Failed to load libcublasLt.so.13"), raising=False)
    preload_cuda_libraries()
    out, err = capfd.readouterr()
    assert out == "" and "libcublasLt.so.13" in err


@pytest.mark.parametrize("name", ["rife46", "rife39"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_static_shape_sessions_give_the_same_frames(in_model_dir, fp16_models, frames, name, precision):
    """Sessions with the padded size, batch and scale fixed (one per shape, made on first
    use) give the frames of the one dynamic session, ensemble (batch 2) and scale 0.5
    included: exactly in fp32; in fp16 rife39's folded constants round differently in a few
    % of the pixels, by a float16 step or two (<= 2e-3)."""
    from vsvfi.runtime import RifeEngine

    a, b = (x[0, :, :281, :627] for x in frames(288))
    dyn = RifeEngine(name, "cpu", threads=2, precision=precision, static_shapes=False)
    fix = RifeEngine(name, "cpu", threads=2, precision=precision, static_shapes=True, streams=2)
    assert not dyn._static and len(fix.sessions) == 1
    for scale, ensemble in ((1.0, False), (1.0, True), (0.5, False)):
        pd, pf = dyn.prepare(a, b, scale), fix.prepare(a, b, scale)
        got, want = fix.synthesize(pf, 0.3, ensemble), dyn.synthesize(pd, 0.3, ensemble)
        if precision == "fp32" or name == "rife46":
            assert np.array_equal(got, want)
        else:
            d = np.abs(got - want)
            assert d.max() <= 2e-3 and d.mean() < 2e-5
    m1, m05 = (fix.spec.pad_for(s) for s in (1.0, 0.5))
    want = {(1, -281 % m1 + 281, -627 % m1 + 627, 1.0), (2, -281 % m1 + 281, -627 % m1 + 627, 1.0),
            (1, -281 % m05 + 281, -627 % m05 + 627, 0.5)}
    assert want <= set(fix._static)  # rife39 may add its large-motion reruns at half scale
    assert all(len(v) == 2 for v in fix._static.values())  # one session per stream
    key = (1, -281 % m1 + 281, -627 % m1 + 627, 1.0)
    assert all("scale" not in {i.name for i in s.get_inputs()} for s in fix._static[key])


def test_static_model_folds_every_shape_node(tmp_path, in_model_dir):
    """With the dimensions and scale fixed, ONNX Runtime's constant folding leaves none of the
    shape arithmetic that the CUDA provider runs on the CPU (seen on an H200: 112 such nodes,
    which also stop CUDA graph capture)."""
    path, _ = verified_onnx("rife46")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    graphs.fix_dimensions(so, 1, 288, 640)
    ort.InferenceSession(graphs.static_model(onnx.load(str(path)), 1.0).SerializeToString(), so,
                         providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node]
    shape_ops = {"Shape", "Gather", "Unsqueeze", "ConstantOfShape", "CumSum", "Reshape", "Range"}
    assert not shape_ops & set(ops)
    assert 300 < len(ops) < 400 and ops.count("GridSample") == 32 and ops.count("Conv") == 40


@pytest.mark.parametrize("protect", [True, False])
def test_filter_uploads_each_source_frame_once(monkeypatch, bikes, protect):
    """With an engine that pads on the device (the GPU path; the CPU EP stands in), the
    filter uploads each source frame once although two pairs use it (pairs whose frames get
    overlays painted out upload their own), and the clip is the same as with host padding."""
    import functools

    import vsvfi
    import vsvfi.runtime as eng_mod
    from vsvfi import filter as vfilter

    # 6 source frames, 5 pairs, no scene change; pairs 53-54 and 55-56 get overlay pixels
    # (chance seeds; 40-46 had some until fractional seeds were dropped, docs/protection.md)
    src = bikes[52:58]
    def planes(clip):
        return [[np.array(f[p]) for p in range(3)] for f in clip.frames()]
    want = planes(vsvfi.Interpolate(src, provider="cpu", protect_static=protect))
    monkeypatch.setattr(vfilter, "get_engine", functools.partial(eng_mod.get_engine, device_pad=True))
    calls = []
    real = eng_mod.RifeEngine.upload
    monkeypatch.setattr(eng_mod.RifeEngine, "upload", lambda self, img, scale=1.0: calls.append(1) or real(self, img, scale))
    clip = vsvfi.Interpolate(src, provider="cpu", protect_static=protect)
    got = planes(clip)
    assert len(got) == len(want) == 12
    assert all(np.array_equal(x, y) for g, w in zip(got, want) for x, y in zip(g, w))
    if not protect:
        assert len(calls) == 6  # one upload per source frame, not two per pair
    else:  # pairs with overlay pixels to paint out upload their own frames, the rest share
        from vsvfi.frames import frame_array
        from vsvfi.protect import DEFAULT

        rgb = [frame_array(f) for f in vfilter._network_clip(src).frames()]
        filled = [DEFAULT.masks(rgb[i], rgb[i + 1])[1].any() for i in range(5)]
        shared = {k for i in range(5) if not filled[i] for k in (i, i + 1)}
        assert 0 < sum(filled) < 5 and len(calls) == 2 * sum(filled) + len(shared)


def test_filter_uploads_each_fused_scale_once(monkeypatch):
    """scale="auto" on a pair that moved more than 48 px runs three flow scales, each on the
    frames padded for itself: on the device path each source frame is uploaded once per
    scale, and the clip is the one host padding gives."""
    import functools

    import vsvfi
    import vsvfi.runtime as eng_mod
    from vsvfi import families
    from vsvfi import filter as vfilter
    from vsvfi.scale_fusion import FUSED_SCALES

    case = next(c for c in families.cases("large-motion") if c.name.startswith("large-motion 96px horizontal w640"))
    src = case.clip[0] + case.clip[2]
    def planes(clip):
        return [[np.array(f[p]) for p in range(3)] for f in clip.frames()]
    want = planes(vsvfi.Interpolate(src, provider="cpu", scale="auto", protect_static=False))
    monkeypatch.setattr(vfilter, "get_engine", functools.partial(eng_mod.get_engine, device_pad=True))
    calls = []
    real = eng_mod.RifeEngine.upload
    monkeypatch.setattr(eng_mod.RifeEngine, "upload",
                        lambda self, img, scale=1.0: calls.append(scale) or real(self, img, scale))
    got = planes(vsvfi.Interpolate(src, provider="cpu", scale="auto", protect_static=False))
    assert len(got) == len(want) == 4
    assert all(np.array_equal(x, y) for g, w in zip(got, want) for x, y in zip(g, w))
    assert sorted(calls) == sorted(FUSED_SCALES * 2)


@pytest.mark.parametrize("script", ["gpu_payload.sh", "gpu_remote.sh"])
def test_gpu_machine_scripts_parse(script):
    """The scripts that carry the check to a GPU machine without network (run there, never in
    CI) are at least valid bash."""
    import subprocess

    path = Path(__file__).resolve().parent.parent / "scripts" / script
    res = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("name, precision", [("rife46", "fp32"), ("rife46", "fp16"), ("rife39", "fp16")])
def test_cuda_graph_runner_gives_the_frames_of_the_static_sessions(in_model_dir, fp16_models, frames, name,
                                                                   precision):
    """RifeEngine(cuda_graph=True): each static shape runs through a GraphRunner (fixed
    buffers, frames copied in on the device, one thread of its own); on the CPU provider no
    graph is captured but everything else is the GPU path. Same frames as the plain
    static-shape sessions, bit for bit, from the device-padded and the host-padded path,
    with ensemble and at scale 0.5, and from 8 threads at once."""
    from vsvfi.runtime import RifeEngine

    a, b = (x[0, :, :281, :627] for x in frames(288))
    base = RifeEngine(name, "cpu", threads=1, precision=precision, static_shapes=True, device_pad=True)
    dev = RifeEngine(name, "cpu", threads=1, precision=precision, static_shapes=True, device_pad=True,
                     cuda_graph=True, streams=2)
    host = RifeEngine(name, "cpu", threads=1, precision=precision, static_shapes=True, cuda_graph=True)
    for scale, ensemble in ((1.0, False), (1.0, True), (0.5, False)):
        want = base.synthesize(base.prepare(a, b, scale), 0.3, ensemble)
        for eng in (dev, host):
            assert np.array_equal(eng.synthesize(eng.prepare(a, b, scale), 0.3, ensemble), want)
    runners = dev._static[(1, *(-x % dev.spec.pad_for(1.0) + x for x in (281, 627)), 1.0)]
    assert len(runners) == 2 and all(isinstance(r, binding.GraphRunner) for r in runners)
    assert not dev.cuda_graph_errors
    pair = dev.prepare(a, b)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda t: dev.synthesize(pair, t), [k / 10 for k in range(1, 9)]))
    for k, frame in enumerate(got, 1):
        assert np.array_equal(frame, base.synthesize(base.prepare(a, b), k / 10))


def test_graph_runner_runs_every_call_on_its_own_thread(in_model_dir):
    """ONNX Runtime keeps a captured CUDA graph per calling thread: every run of a
    GraphRunner's session (capture and replays) must come from the one thread it owns,
    whichever thread calls it."""
    s = ort.InferenceSession(graphs.copy_model("float32").SerializeToString(), providers=["CPUExecutionProvider"])
    seen = []

    class Spy:
        def __getattr__(self, name):
            return getattr(s, name)

        def run_with_iobinding(self, bind, *rest):
            seen.append(threading.get_ident())
            return s.run_with_iobinding(bind, *rest)

    copier = binding.BoundRunner(ort.InferenceSession(graphs.copy_model("float32").SerializeToString(),
                                                      providers=["CPUExecutionProvider"]))
    runner = binding.GraphRunner(Spy(), {"x": (1, 3, 4, 5), "y": (1, 3, 4, 5)}, copier)
    x = np.arange(60, dtype=np.float32).reshape(1, 3, 4, 5)
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda k: runner.run({"x": x + k})[0], range(12)))
    dev = copier.upload(x + 100)
    assert np.array_equal(runner.run({"x": dev})[0], x + 100)  # an OrtValue goes through the copy graph
    assert all(np.array_equal(o, x + k) for k, o in enumerate(outs))
    assert set(seen) == {runner.thread_id} and runner.thread_id != threading.get_ident()
    with pytest.raises(ValueError, match=r"input 'x' has shape \(1, 3, 4, 6\), the graph is bound to \(1, 3, 4, 5\)"):
        runner.run({"x": np.zeros((1, 3, 4, 6), np.float32)})
    runner.close()


def test_gate_holds_shared_work_off_while_exclusive():
    """A capture (exclusive) waits for running device calls (shared) to finish, and new
    shared calls wait while it waits or runs."""
    gate = binding.Gate()
    order = []
    inside = threading.Event()
    release = threading.Event()

    def shared(tag, wait=None):
        with gate.shared():
            order.append(tag)
            if wait:
                inside.set()
                release.wait(5)

    def exclusive():
        with gate.exclusive():
            order.append("exclusive")

    first = threading.Thread(target=shared, args=("shared 1", True))
    first.start()
    inside.wait(5)
    cap = threading.Thread(target=exclusive)
    cap.start()
    while not gate._waiting:  # the capture is queued behind the running call
        threading.Event().wait(0.01)
    late = threading.Thread(target=shared, args=("shared 2",))
    late.start()
    threading.Event().wait(0.1)
    assert order == ["shared 1"]
    release.set()
    for t in (first, cap, late):
        t.join(5)
    assert order == ["shared 1", "exclusive", "shared 2"]


def test_cuda_graph_settings_and_a_refused_capture(in_model_dir, frames, monkeypatch, capfd):
    """cuda_graph needs static shapes (SettingError, not a silent no-op); where ONNX Runtime
    refuses the capture, that shape runs on plain sessions, says so once on stderr and
    gives the same frames."""
    from vsvfi.runtime import RifeEngine, SettingError

    with pytest.raises(SettingError, match="cuda_graph needs static shapes"):
        RifeEngine("rife46", "cpu", cuda_graph=True)
    monkeypatch.setattr("vsvfi.runtime.rife.GraphRunner",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("graph capture refused")))
    a, b = (x[0] for x in frames(288))
    eng = RifeEngine("rife46", "cpu", threads=1, static_shapes=True, cuda_graph=True)
    plain = RifeEngine("rife46", "cpu", threads=1, static_shapes=True)
    assert np.array_equal(eng(a, b, 0.5), plain(a, b, 0.5))
    assert eng.cuda_graph_errors == ["1x288x640 scale 1.0: RuntimeError: graph capture refused"]
    assert "vsvfi: no CUDA graph for rife46 1x288x640 scale 1.0: RuntimeError: graph capture refused" in capfd.readouterr().err


def test_onnxruntime_in_a_private_site_directory_is_not_a_collision(tmp_path, monkeypatch):
    """The two-wheels check counts only distributions in the directory onnxruntime is
    imported from: onnxruntime-gpu unpacked into a directory earlier on sys.path shadows the
    system's CPU onnxruntime whole (the lent GPU machine's set-up), while both wheels in one
    directory overwrite each other's files."""
    from importlib import metadata

    site = Path(ort.__file__).resolve().parent.parent
    other = tmp_path / "site"
    found = {"onnxruntime": site, "onnxruntime-gpu": other}

    class Dist:
        def __init__(self, where):
            self.where = where

        def locate_file(self, _):
            return self.where

    def distribution(name):
        if name not in found:
            raise metadata.PackageNotFoundError(name)
        return Dist(found[name])
    monkeypatch.setattr(metadata, "distribution", distribution)
    assert providers.ort_distributions() == ["onnxruntime"]
    found["onnxruntime-gpu"] = site
    assert providers.ort_distributions() == ["onnxruntime", "onnxruntime-gpu"]
    with pytest.raises(providers.ProviderError, match="both onnxruntime and onnxruntime-gpu are installed"):
        providers.check_onnxruntime()


def test_filter_with_cuda_graph_runners_gives_the_same_clip(monkeypatch, bikes):
    """The whole filter on the GPU path with CUDA-graph runners (device padding, uploads
    shared between pairs, fixed buffers filled by the copy graph, each runner on its own
    thread; the CPU EP stands in, so nothing is captured): every output frame equals the
    plain path's, with VapourSynth's threads requesting frames at once."""
    import functools

    import vsvfi
    import vsvfi.runtime as eng_mod
    from vsvfi import filter as vfilter

    src = bikes[40:46]

    def planes(clip):
        return [[np.array(f[p]) for p in range(3)] for f in clip.frames()]
    want = planes(vsvfi.Interpolate(src, provider="cpu", protect_static=False, ratio=3))
    monkeypatch.setattr(vfilter, "get_engine", functools.partial(eng_mod.get_engine, device_pad=True,
                                                                 static_shapes=True, cuda_graph=True))
    clip = vsvfi.Interpolate(src, provider="cpu", protect_static=False, ratio=3)
    got = planes(clip)
    assert len(got) == len(want) == 18
    assert all(np.array_equal(x, y) for g, w in zip(got, want) for x, y in zip(g, w))
    eng = next(e for k, e in eng_mod._engines.items() if k[-1] is True)
    runners = [r for v in eng._static.values() for r in v]
    assert runners and all(isinstance(r, binding.GraphRunner) for r in runners) and not eng.cuda_graph_errors

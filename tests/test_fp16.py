"""The fp16 converter (vsvfi.runtime.fp16) makes exactly the graphs it made before its rewrite
as a sequence of passes: same bytes for rife46 and rife39, and the same cached file from
fp16_onnx. The structure and accuracy of the fp16 graphs, and the manifest cache: tests/test_gpu.py.

The hashes were recorded from the converter before the pass rewrite (the single
convert_fp16 function in vsvfi/gpu.py, converter tag vsvfi.gpu.convert_fp16/1) with
onnx 1.23.2 and numpy 2.5.5; another onnx version may serialize or shape-infer differently.
"""

import hashlib
import json
import shutil

import onnx
import pytest
from onnx import TensorProto

from vsvfi.assets import sha256_of
from vsvfi.models import read_manifest, verified_onnx
from vsvfi.runtime import fp16, fp16_passes

# sha256 of convert_fp16(onnx.load(NAME.onnx)).SerializeToString() (default arguments),
# recorded from the converter before the pass rewrite. fp16_onnx saves the same bytes, so
# these are also the sha256 of models/NAME.fp16.onnx. rife46 re-recorded when its graph gained
# the disagreement output; the same converter still turns the graph before that into
# fe11b8513ccd58b5...
RECORDED = {
    "rife46": "f613f9fa33a55bb01fb782f7bc23a3e15e6cefd5e8619a78512fa24f213559e2",
    "rife39": "d55e667810b9ee1549146988e647b61d5294e09f33eb6bc4db08558229e07874",
}


def test_elem_type_constants_are_onnx_values():
    assert (fp16_passes._FLOAT, fp16_passes._HALF) == (TensorProto.FLOAT, TensorProto.FLOAT16)


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_converter_output_matches_the_recorded_bytes(name):
    model = onnx.load(str(verified_onnx(name)[0]))
    got = hashlib.sha256(fp16.convert_fp16(model).SerializeToString()).hexdigest()
    assert got == RECORDED[name]


def test_fp16_onnx_writes_the_recorded_file(tmp_path, monkeypatch):
    # A private model directory: the file made here never touches models/.
    path, entry = verified_onnx("rife46")
    shutil.copy(path, tmp_path / path.name)
    (tmp_path / "manifest.json").write_text(json.dumps({"rife46": entry}))
    monkeypatch.setenv("VSVFI_MODEL_DIR", str(tmp_path))

    out = fp16.fp16_onnx("rife46")
    assert out == tmp_path / "rife46.fp16.onnx"
    assert sha256_of(out) == RECORDED["rife46"]
    assert read_manifest()["rife46.fp16"]["sha256"] == RECORDED["rife46"]

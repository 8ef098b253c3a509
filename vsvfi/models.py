"""Model registry and the manifest of exported ONNX files.

Each model is one ONNX file in the model directory (``$VSVFI_MODEL_DIR`` if set, else
``<project>/models``), created by ``python -m vsvfi.export MODEL`` (the set-up script
runs it). ``manifest.json`` beside it records, per model, the file's sha256, opset, IR
version, input/output names and shapes, the padding multiple and the weights' origin and
licence. A session is only created for a file whose sha256 matches its manifest entry.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .assets import (GMFSS_FEATURE_WEIGHTS, GMFSS_FLOW_WEIGHTS, GMFSS_FUSION_WEIGHTS, GMFSS_METRIC_WEIGHTS,
                     PROJECT_DIR, RIFE39_WEIGHTS, RIFE46_WEIGHTS, Asset, sha256_of)


#: Values accepted for ``scale``: the resolution of the optical-flow estimation relative to
#: the frame (0.5 = flow at half resolution; the warp and the output stay at full resolution).
SCALES = (0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    weights: Asset
    #: Height and width of the network input must be multiples of this at ``scale=1``;
    #: see :meth:`pad_for`.
    pad_multiple: int
    #: Output names of the graph. ``large_motion`` (bool, (N,)) asks the engine to run
    #: that item again with half the ``scale`` (Practical-RIFE v3.9's large-motion rule).
    outputs: tuple[str, ...] = ("frame",)
    #: A multi-graph model names its ONNX graphs here (each a file ``NAME.onnx`` with its own
    #: manifest entry); empty for a single-graph model (one file named after the model).
    graphs: tuple[str, ...] = ()
    #: Further weight files of a model built from several pretrained sub-networks.
    extra_weights: tuple[Asset, ...] = ()

    def pad_for(self, scale: float) -> int:
        """Padding multiple (pixels) for flow ``scale``: the coarsest level works at
        ``scale / pad_multiple`` of the frame and its size must stay an integer."""
        return max(1, round(self.pad_multiple / scale))


MODELS: dict[str, ModelSpec] = {
    "rife46": ModelSpec(
        name="rife46",
        description="RIFE v4.6 (IFNet, 4-level intermediate flow + fusion mask), Practical-RIFE, MIT",
        weights=RIFE46_WEIGHTS,
        pad_multiple=32,
    ),
    "rife39": ModelSpec(
        name="rife39",
        description=("Practical-RIFE v3.9 (IFNet_HDv3: 4-level intermediate flow + fusion mask, then "
                     "Contextnet features and a Unet refinement of the fused frame), MIT"),
        weights=RIFE39_WEIGHTS,
        # 32 at 1/8 flow resolution, doubled because a large-motion rerun uses half the scale
        pad_multiple=64,
        outputs=("frame", "large_motion"),
    ),
    "gmfss": ModelSpec(
        name="gmfss",
        description=("GMFSS_Fortuna base (GMFlow optical flow, MetricNet, FeatureNet, softmax splatting, "
                     "GridNet fusion; anime-trained), two graphs: per-pair flow + per-frame fusion, MIT"),
        weights=GMFSS_FLOW_WEIGHTS,
        # GMFlow on the 1/2 frame: 1/4 features in 8x8 attention windows (2 * 4 * 8)
        pad_multiple=64,
        graphs=("gmfss_flow", "gmfss_fusion"),
        extra_weights=(GMFSS_FEATURE_WEIGHTS, GMFSS_METRIC_WEIGHTS, GMFSS_FUSION_WEIGHTS),
    ),
}

#: Graph inputs, in order. img0, img1: float32 (N, 3, H, W) RGB in [0, 1]; timestep:
#: float32 (N, 1, 1, 1) in [0, 1]; scale: float32 (1,), one of SCALES.
INPUT_NAMES = ("img0", "img1", "timestep", "scale")


def model_dir() -> Path:
    return Path(os.environ.get("VSVFI_MODEL_DIR", PROJECT_DIR / "models"))


def manifest_path() -> Path:
    return model_dir() / "manifest.json"


def onnx_path(name: str) -> Path:
    return model_dir() / f"{name}.onnx"


def read_manifest() -> dict:
    try:
        return json.loads(manifest_path().read_text())
    except FileNotFoundError:
        return {}


def file_entry(path: Path, model) -> dict:
    """The manifest fields of every ONNX file: name, sha256, size, opset, IR version and the
    graph's inputs/outputs (name, element type, shape with symbolic dimensions by name).
    ``model``: the onnx.ModelProto saved at ``path``."""
    import onnx

    def io_desc(values):
        return [{"name": v.name, "elem_type": onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type).lower(),
                 "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]} for v in values]

    return {
        "file": path.name,
        "sha256": sha256_of(path),
        "bytes": path.stat().st_size,
        "opset": max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        "ir_version": model.ir_version,
        "inputs": io_desc(model.graph.input),
        "outputs": io_desc(model.graph.output),
    }


def write_manifest_entry(name: str, entry: dict) -> None:
    data = read_manifest()
    data[name] = entry
    path = manifest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


class ModelFileError(RuntimeError):
    """The ONNX file of a model is missing or does not match the manifest."""


def verified_onnx(name: str) -> tuple[Path, dict]:
    """Return (path, manifest entry) of the ONNX file ``name`` after checking its sha256:
    a single-graph model's name, or one graph of a multi-graph model (``ModelSpec.graphs``,
    e.g. "gmfss_flow").

    Raises KeyError for an unknown name, ModelFileError for a missing file, a missing
    manifest entry or a hash mismatch; each message names the command that fixes it.
    """
    owner = MODELS.get(name) or next((m for m in MODELS.values() if name in m.graphs), None)
    if owner is None or (owner.graphs and name not in owner.graphs):
        raise KeyError(name)
    path = onnx_path(name)
    fix = f"run 'python -m vsvfi.export {owner.name}' (scripts/setup.sh does this)"
    if not path.exists():
        raise ModelFileError(f"model file {path} is missing: {fix}")
    entry = read_manifest().get(name)
    if entry is None:
        raise ModelFileError(f"{manifest_path()} has no entry for {name}: {fix}")
    digest = sha256_of(path)
    if digest != entry.get("sha256"):
        raise ModelFileError(f"{path} has sha256 {digest[:16]}…, the manifest says {str(entry.get('sha256'))[:16]}…: {fix} --force")
    return path, entry


def verified_model(name: str) -> list[tuple[Path, dict]]:
    """(path, manifest entry) of every ONNX file of model ``name`` (one, or each of
    ``ModelSpec.graphs``), each checked by :func:`verified_onnx`; same errors."""
    spec = MODELS[name]
    return [verified_onnx(g) for g in (spec.graphs or (name,))]

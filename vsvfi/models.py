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

from .assets import PROJECT_DIR, RIFE46_WEIGHTS, Asset, sha256_of


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    weights: Asset
    pad_multiple: int


MODELS: dict[str, ModelSpec] = {
    "rife46": ModelSpec(
        name="rife46",
        description="RIFE v4.6 (IFNet, 4-level intermediate flow + fusion mask), Practical-RIFE, MIT",
        weights=RIFE46_WEIGHTS,
        pad_multiple=32,
    ),
}

INPUT_NAMES = ("img0", "img1", "timestep")
OUTPUT_NAMES = ("frame",)


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
    """Return (path, manifest entry) of model ``name`` after checking its sha256.

    Raises KeyError for an unknown name, ModelFileError for a missing file, a missing
    manifest entry or a hash mismatch; each message names the command that fixes it.
    """
    spec = MODELS[name]
    path = onnx_path(spec.name)
    fix = f"run 'python -m vsvfi.export {spec.name}' (scripts/setup.sh does this)"
    if not path.exists():
        raise ModelFileError(f"model file {path} is missing: {fix}")
    entry = read_manifest().get(spec.name)
    if entry is None:
        raise ModelFileError(f"{manifest_path()} has no entry for {spec.name}: {fix}")
    digest = sha256_of(path)
    if digest != entry.get("sha256"):
        raise ModelFileError(f"{path} has sha256 {digest[:16]}…, the manifest says {str(entry.get('sha256'))[:16]}…: {fix} --force")
    return path, entry

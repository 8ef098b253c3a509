"""Model registry and the manifest of exported ONNX files.

Each model is one ONNX file in the model directory (:func:`model_dir`), created by
``vsvfi models fetch --model MODEL`` (``python -m vsvfi.export MODEL``; the set-up script
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
                     PROJECT_DIR, RIFE39_WEIGHTS, RIFE46_WEIGHTS, Asset, in_checkout, sha256_of, user_dir)
from .rife4_versions import VERSIONS


#: Values accepted for ``scale``: the resolution of the optical-flow estimation relative to
#: the frame (0.5 = flow at half resolution; the warp and the output stay at full resolution).
SCALES = (0.25, 0.5, 1.0, 2.0)


#: Graph inputs of the single-graph (RIFE) models, in order. img0, img1: float32
#: (N, 3, H, W) RGB in [0, 1]; timestep: float32 (N, 1, 1, 1) in [0, 1]; scale: float32
#: (1,), one of SCALES.
INPUT_NAMES = ("img0", "img1", "timestep", "scale")
#: TensorRT shape-profile layout of those inputs: each input's shape written from the batch
#: N and padded frame size H x W (see :func:`vsvfi.runtime.providers.tensorrt_provider_options`).
RIFE_PROFILE = (("img0", "frame"), ("img1", "frame"), ("timestep", "timestep"), ("scale", "scalar"))
#: Outputs of GMFSS's flow graph = the per-pair state, inputs of its fusion graph (before
#: ``timestep``): source features, flows and splatting metrics at 1/2, 1/4 and 1/8 resolution.
GMFSS_STATE = ("src1", "flow1", "metric1", "src2", "flow2", "metric2", "src3", "flow3", "metric3")


#: Side (pixels) of the blocks a ``disagreement`` graph output averages over (divides every
#: model's padding multiple, so a padded frame holds whole blocks).
DISAGREEMENT_BLOCK = 8


@dataclass(frozen=True)
class ModelSpec:
    """Everything the runtime, the filter and the exporter need to know about one model;
    no other module special-cases a model by name (docs/architecture.md)."""

    name: str
    description: str
    #: The pinned weights of a bundled model; None for a RIFE 4.x version, whose weights the
    #: user imports (``vsvfi models import``; :func:`imported_weights`).
    weights: Asset | None
    #: Height and width of the network input must be multiples of this at ``scale=1``;
    #: see :meth:`pad_for`.
    pad_multiple: int
    #: Peak host-memory growth of one network run on ONNX Runtime's CPU provider, bytes per
    #: padded pixel at ``scale=1``, batch 1 (measured: docs/reliability.md, "Memory").
    net_bytes_per_pixel: int
    #: Engine and exporter kind: "rife" (one graph per frame, :mod:`vsvfi.runtime.rife`) or
    #: "gmfss" (flow graph per pair + fusion graph per frame, :mod:`vsvfi.runtime.gmfss`).
    kind: str = "rife"
    #: Output names of the graph. ``large_motion`` (bool, (N,)) asks the engine to run
    #: that item again with half the ``scale`` (Practical-RIFE v3.9's large-motion rule);
    #: ``disagreement`` (float, (N, 1, H/8, W/8)) is the flow's misfit that lets
    #: ``scale="auto"`` weigh several flow scales (:mod:`vsvfi.scale_fusion`).
    outputs: tuple[str, ...] = ("frame",)
    #: A multi-graph model names its ONNX graphs here (each a file ``NAME.onnx`` with its own
    #: manifest entry); empty for a single-graph model (one file named after the model).
    graphs: tuple[str, ...] = ()
    #: Inputs and outputs of each graph of a multi-graph model: (graph, inputs, outputs).
    #: A single-graph model has :data:`INPUT_NAMES` and :attr:`outputs`.
    graph_io: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    #: Further weight files of a model built from several pretrained sub-networks.
    extra_weights: tuple[Asset, ...] = ()
    #: Bytes per padded pixel of the state the engine keeps per source pair beyond the two
    #: padded frames (0: none).
    state_bytes_per_pixel: float = 0.0
    #: ``numpy.pad`` mode of the padding to :meth:`pad_for`.
    pad_mode: str = "edge"
    #: TensorRT shape-profile layout of the graph inputs (:data:`RIFE_PROFILE`); empty:
    #: no explicit profile (TensorRT builds for the shapes it sees).
    profile_inputs: tuple[tuple[str, str], ...] = ()

    def pad_for(self, scale: float) -> int:
        """Padding multiple (pixels) for flow ``scale``: the coarsest level works at
        ``scale / pad_multiple`` of the frame and its size must stay an integer."""
        return max(1, round(self.pad_multiple / scale))

    def io(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """{ONNX file stem: (input names, output names)} of every graph of the model."""
        if self.graph_io:
            return {g: (ins, outs) for g, ins, outs in self.graph_io}
        return {self.name: (INPUT_NAMES, self.outputs)}


MODELS: dict[str, ModelSpec] = {
    "rife46": ModelSpec(
        name="rife46",
        description="RIFE v4.6 (IFNet, 4-level intermediate flow + fusion mask), Practical-RIFE, MIT",
        weights=RIFE46_WEIGHTS,
        pad_multiple=32,
        net_bytes_per_pixel=250,
        outputs=("frame", "disagreement"),
        profile_inputs=RIFE_PROFILE,
    ),
    "rife39": ModelSpec(
        name="rife39",
        description=("Practical-RIFE v3.9 (IFNet_HDv3: 4-level intermediate flow + fusion mask, then "
                     "Contextnet features and a Unet refinement of the fused frame), MIT"),
        weights=RIFE39_WEIGHTS,
        # 32 at 1/8 flow resolution, doubled because a large-motion rerun uses half the scale
        pad_multiple=64,
        net_bytes_per_pixel=530,
        outputs=("frame", "large_motion"),
        profile_inputs=RIFE_PROFILE,
    ),
    "gmfss": ModelSpec(
        name="gmfss",
        description=("GMFSS_Fortuna base (GMFlow optical flow, MetricNet, FeatureNet, softmax splatting, "
                     "GridNet fusion; anime-trained), two graphs: per-pair flow + per-frame fusion, MIT"),
        weights=GMFSS_FLOW_WEIGHTS,
        # GMFlow on the 1/2 frame: 1/4 features in 8x8 attention windows (2 * 4 * 8)
        pad_multiple=64,
        # not measured: the largest measured value (rife39's)
        net_bytes_per_pixel=530,
        kind="gmfss",
        graphs=("gmfss_flow", "gmfss_fusion"),
        graph_io=(("gmfss_flow", ("img0", "img1", "scale"), GMFSS_STATE),
                  ("gmfss_fusion", (*GMFSS_STATE, "timestep"), ("frame",))),
        extra_weights=(GMFSS_FEATURE_WEIGHTS, GMFSS_METRIC_WEIGHTS, GMFSS_FUSION_WEIGHTS),
        # float32 x (140 channels at 1/4 of the pixels + 262 at 1/16 + 390 at 1/64):
        # about 230 MB per megapixel (docs/gmfss.md)
        state_bytes_per_pixel=4 * (140 / 4 + 262 / 16 + 390 / 64),
        # mirror padding: replicated edges derail GMFlow's global matching (docs/gmfss.md)
        pad_mode="reflect",
    ),
}


def _family_spec(version: str) -> ModelSpec:
    """The spec of RIFE ``version`` (:mod:`vsvfi.rife4_versions`) with imported weights."""
    v = VERSIONS[version]
    # estimated from rife46's measured 250 bytes per pixel, by the blocks' and encoder's width
    size = (sum(v.widths) + 16 * v.features) / sum(VERSIONS["4.6"].widths)
    return ModelSpec(
        name=f"rife{version}",
        description=f"RIFE v{version} (Practical-RIFE IFNet_HDv3{', same architecture as v' + v.same_as if v.same_as else ''}), "
                    "user-supplied weights (upstream: MIT)",
        weights=None,
        pad_multiple=v.pad_multiple,
        net_bytes_per_pixel=round(250 * max(1.0, size)),
        outputs=("frame", "large_motion") if v.large_motion else ("frame",),
        profile_inputs=RIFE_PROFILE,
    )


#: The RIFE 4.x versions a user can import weights for, by model name ("rife4.25",
#: "rife4.25.lite", ...): the upstream version numbers with a "rife" prefix.
FAMILY: dict[str, ModelSpec] = {f"rife{v}": _family_spec(v) for v in VERSIONS}


def spec(name: str) -> ModelSpec:
    """The spec of a bundled model (:data:`MODELS`) or a RIFE 4.x version
    (:data:`FAMILY`). Raises KeyError for an unknown name."""
    return MODELS[name] if name in MODELS else FAMILY[name]


def known_models() -> list[str]:
    """Every model name Interpolate accepts: the bundled ones, then the RIFE 4.x versions."""
    return [*MODELS, *FAMILY]


def imported_weights(name: str) -> Path:
    """Where ``vsvfi models import`` keeps the weights of RIFE 4.x model ``name`` (so that
    it can be exported again)."""
    return model_dir() / "weights" / f"{name}.pkl"


def model_dir() -> Path:
    """Where the ONNX files and manifest.json live: ``$VSVFI_MODEL_DIR`` if set; else
    ``<project>/models`` in a source checkout; else ``models`` in the per-user data
    directory (platformdirs: ``~/.local/share/vsvfi/models`` on Linux), never site-packages."""
    if "VSVFI_MODEL_DIR" in os.environ:
        return Path(os.environ["VSVFI_MODEL_DIR"])
    return PROJECT_DIR / "models" if in_checkout() else user_dir("data") / "models"


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
    owner = MODELS.get(name) or FAMILY.get(name) or next((m for m in MODELS.values() if name in m.graphs), None)
    if owner is None or (owner.graphs and name not in owner.graphs):
        raise KeyError(name)
    path = onnx_path(name)
    fix = (f"run 'vsvfi models fetch --model {owner.name}' (scripts/setup.sh does this)" if owner.weights else
           f"import its weights: 'vsvfi models import flownet.pkl --model {owner.name}' (vsvfi models fetch --model "
           f"{owner.name} says where to get them)")
    if not path.exists():
        raise ModelFileError(f"model file {path} is missing: {fix}")
    refetch = (f"run 'vsvfi models fetch --model {owner.name} --force'" if owner.weights else
               f"import its weights again: 'vsvfi models import flownet.pkl --model {owner.name} --force'")
    entry = read_manifest().get(name)
    if entry is None:
        raise ModelFileError(f"{manifest_path()} has no entry for {name}: {fix}")
    digest = sha256_of(path)
    if digest != entry.get("sha256"):
        raise ModelFileError(f"{path} has sha256 {digest[:16]}…, the manifest says {str(entry.get('sha256'))[:16]}…: {refetch}")
    return path, entry


def verified_model(name: str) -> list[tuple[Path, dict]]:
    """(path, manifest entry) of every ONNX file of model ``name`` (one, or each of
    ``ModelSpec.graphs``), each checked by :func:`verified_onnx`; same errors."""
    return [verified_onnx(g) for g in (spec(name).graphs or (name,))]


def verified_graphs(name: str) -> dict[str, Path]:
    """{graph file stem: path} of every ONNX file of model ``name``, each checked by
    :func:`verified_onnx` and against the inputs and outputs of :meth:`ModelSpec.io` as its
    manifest entry records them. Raises KeyError, or ModelFileError with the command that
    fixes it."""
    paths = {}
    for graph, (inputs, outputs) in spec(name).io().items():
        path, entry = verified_onnx(graph)
        ins = [i["name"] for i in entry["inputs"]]
        outs = [o["name"] for o in entry["outputs"]]
        if (tuple(ins), tuple(outs)) != (inputs, outputs):
            raise ModelFileError(f"{path} has inputs {ins} and outputs {outs}, expected {list(inputs)} "
                                 f"and {list(outputs)}: fetch it again with 'vsvfi models fetch --model {name} --force'")
        paths[graph] = path
    return paths

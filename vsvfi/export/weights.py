"""Importing the user's weights of a RIFE 4.x version (``vsvfi models import``, and
``vsvfi models fetch --model rife4.X --download``): check them against the architecture of
that version (:mod:`.rife4`), keep a copy beside the models, export the ONNX graph."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

import torch

from ..assets import sha256_of
from ..models import FAMILY, imported_weights, model_dir
from . import export, network, upstream_state


class WeightsError(ValueError):
    """Weights that cannot be imported, with the message for the user."""


def shapes(name: str) -> dict[str, tuple[int, ...]]:
    """{tensor name: shape} of model ``name``'s network (built on the meta device: no memory)."""
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in network(name).state_dict().items()}


def import_weights(path: Path, name: str, force: bool, log=print) -> Path:
    """Check ``path`` holds the weights of RIFE 4.x model ``name`` (``torch.load`` with
    ``weights_only=True``; the tensors and shapes of that version exactly, an upstream
    ``module.`` prefix accepted), copy it to :func:`vsvfi.models.imported_weights` and export
    the ONNX graph (its self-check included). Returns the ONNX path. Raises WeightsError
    saying what is wrong, naming the versions whose tensors the file has, if any."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a file that is not a safe state dict
        raise WeightsError(f"{path} is not PyTorch weights that load with weights_only=True ({type(e).__name__}); "
                           "a flownet.pkl from Practical-RIFE or vs-rife is") from None
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise WeightsError(f"{path} is not a state dict of tensors (a RIFE flownet.pkl is one)")
    got = {k: tuple(v.shape) for k, v in upstream_state(raw).items()}
    if got != shapes(name):
        matches = [n for n in FAMILY if shapes(n) == got]
        which = (f"its tensors are those of {', '.join(matches)}" if matches else
                 f"its {len(got)} tensors match no RIFE 4.x version")
        raise WeightsError(f"{path} does not hold {name} weights: {which}")
    dst = imported_weights(name)
    if dst.exists() and not force and sha256_of(dst) != sha256_of(path):
        raise WeightsError(f"other {name} weights were imported before ({dst}); pass --force to replace them")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.resolve() != path.resolve():
        shutil.copyfile(path, dst)
    log(f"vsvfi models: {name}: weights sha256 {sha256_of(dst)}; exporting ...")
    out = export(name, force=True)
    log(f"vsvfi models: {name}: {out}")
    return out


def download_and_import(url: str, name: str, force: bool, log=print) -> Path:
    """Download ``url`` once into the model directory (again with ``force``), show its
    sha256 and import it (:func:`import_weights`, which records the sha256 in the
    manifest). Raises WeightsError when the download fails, with what to do by hand."""
    target = model_dir() / "downloads" / url.rsplit("/", 1)[1]
    if force or not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        log(f"vsvfi models: {name}: downloading {url} ...")
        try:
            with urllib.request.urlopen(url, timeout=60) as r, open(part, "wb") as f:
                shutil.copyfileobj(r, f)
        except (urllib.error.URLError, OSError) as e:
            part.unlink(missing_ok=True)
            raise WeightsError(f"could not download {url}: {getattr(e, 'reason', e)}; download it by hand and run "
                               f"'vsvfi models import {target.name} --model {name}'") from None
        part.replace(target)
    return import_weights(target, name, force=True, log=log)

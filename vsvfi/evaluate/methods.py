"""The methods compared by the evaluation: parsing method specs (vsvfi models with options,
baselines, peers), which of them can run here, and a trial run of each vsvfi method on a
small clip before the real run starts."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import vapoursynth as vs

from .convert import clip_from_arrays

core = vs.core

BASELINES = ("dup", "blend")
PEERS = ("mv-flowfps", "mv-blockfps", "minterpolate")
#: Interpolate() arguments evaluate sets itself.
_RESERVED = {"clip", "ratio", "fps", "model"}


class EvaluateError(Exception):
    """A one-line, user-facing problem: bad input, unknown method, failed method set-up."""


@dataclass(frozen=True)
class Method:
    """One column of the evaluation.

    label: as given on the command line (``rife46:scale=0.5``); kind: ``"vsvfi"``,
    ``"dup"``, ``"blend"``, ``"mv-flowfps"``, ``"mv-blockfps"`` or ``"minterpolate"``;
    model: the vsvfi model name (kind "vsvfi" only); options: extra keyword arguments for
    :func:`vsvfi.Interpolate`.
    """

    label: str
    kind: str
    model: str | None = None
    options: tuple[tuple[str, object], ...] = ()


def _value(text: str):
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_method(spec: str) -> Method:
    """Parse one method spec: ``dup``, ``blend``, ``mv-flowfps``, ``mv-blockfps``,
    ``minterpolate``, or a vsvfi model name with optional ``:key=value`` options
    (``rife46:scale=0.5:ensemble=1``). Values become int, float or bool (true/false,
    yes/no, on/off) where they parse as one, else stay strings.

    Raises EvaluateError for an unknown name, options on a non-vsvfi method, a malformed
    option or one that evaluate sets itself (ratio, fps, model, clip).
    """
    from ..models import FAMILY, MODELS

    text = spec.strip()
    name, *opts = text.split(":")
    known = [*MODELS, *BASELINES, *PEERS]
    if name not in known and name not in FAMILY:
        raise EvaluateError(f"unknown method {name!r}; known methods: {', '.join(known)}, and the imported RIFE 4.x "
                            "versions (rife4.25, ...: vsvfi models list)")
    if name not in MODELS and name not in FAMILY:
        if opts:
            raise EvaluateError(f"method {name!r} takes no options (got {text!r})")
        return Method(label=name, kind=name)
    options = []
    for opt in opts:
        key, eq, val = opt.partition("=")
        if not eq or not key.isidentifier() or not val:
            raise EvaluateError(f"bad option {opt!r} in method {text!r}; expected key=value, e.g. rife46:scale=0.5")
        if key in _RESERVED:
            raise EvaluateError(f"option {key!r} in method {text!r} is set by evaluate itself")
        options.append((key, _value(val)))
    return Method(label=text, kind="vsvfi", model=name, options=tuple(options))


def _ffmpeg() -> str | None:
    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return exe if re.search(r"\sminterpolate\s", out) else None


def availability() -> dict[str, str | None]:
    """Method name -> None when it can run here, else the reason it cannot (one line)."""
    from ..models import FAMILY, MODELS, verified_model

    out: dict[str, str | None] = {}
    for name in MODELS:
        try:
            verified_model(name)
            out[name] = None
        except Exception as e:  # missing export, stale manifest, ...
            out[name] = str(e).splitlines()[0] if str(e) else type(e).__name__
    for name in FAMILY:  # imported RIFE 4.x versions run too; the others are not listed
        try:
            verified_model(name)
            out[name] = None
        except Exception:
            pass
    out["dup"] = out["blend"] = None
    mv = None if hasattr(core, "mv") else "needs VapourSynth MVTools (pip install vapoursynth-mvtools, in vsvfi[evaluate])"
    out["mv-flowfps"] = out["mv-blockfps"] = mv
    out["minterpolate"] = None if _ffmpeg() else "needs ffmpeg with the minterpolate filter on PATH"
    return out


def resolve_methods(specs: Iterable[str] | None, provider: str = "auto",
                    log: Callable[[str], None] = lambda s: None) -> list[Method]:
    """Parse and check methods. ``specs`` None means every method that can run here
    (vsvfi models whose ONNX file is exported, then the baselines, then the peers); an
    unusable default method is left out with a note through ``log``. Explicitly named
    methods that cannot run raise EvaluateError. Each vsvfi method is tried once on a
    small blank clip, so a bad option fails here and not an hour into a run.
    """
    avail = availability()
    explicit = specs is not None
    if specs is None:
        specs = [m for m, why in avail.items() if why is None]
    methods, seen = [], set()
    for s in specs:
        m = parse_method(s)
        if m.label in seen:
            raise EvaluateError(f"method {m.label!r} is listed twice")
        seen.add(m.label)
        why = avail[m.model or m.kind]
        if why is None and m.kind == "vsvfi":
            why = _try_model(m, provider)
        if why is not None:
            if explicit:
                raise EvaluateError(f"method {m.label}: {why}")
            log(f"leaving out {m.label}: {why}")
            continue
        methods.append(m)
    if not methods:
        raise EvaluateError("no method can run here")
    return methods


def _try_model(m: Method, provider: str) -> str | None:
    from .. import Interpolate

    rng = np.random.default_rng(0)  # textured frames, so the network really runs
    probe = core.resize.Bicubic(clip_from_arrays([rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(2)]),
                                format=vs.YUV420P8, matrix_s="170m")
    try:
        Interpolate(probe, ratio=2, model=m.model, **{"provider": provider, **dict(m.options)}).get_frame(1)
    except (vs.Error, TypeError, ValueError) as e:
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None

#!/usr/bin/env bash
# Idempotent set-up from a clean clone: Debian ffmpeg, a Python 3.12 venv in .venv with
# vsvfi and its extras (export, test, evaluate), `vapoursynth config`, the pinned weights
# (sha256-checked), the ONNX export in models/ and the sample clips in .cache/. A second
# run reuses everything.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }

if ! command -v ffmpeg >/dev/null 2>&1; then
    log "installing Debian ffmpeg"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q ffmpeg >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q ffmpeg >/dev/null; }
fi

find_python() {
    if command -v python3.12 >/dev/null 2>&1 && python3.12 -c 'import sys' 2>/dev/null; then command -v python3.12; return; fi
    local root; root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    for p in "$root"/versions/3.12*/bin/python3.12; do [ -x "$p" ] && { echo "$p"; return; }; done
    return 1
}
if [ ! -x .venv/bin/python ]; then
    PY=$(find_python) || { echo "setup: Python 3.12 not found (looked on PATH and under pyenv root)" >&2; exit 1; }
    log "creating .venv with $PY"
    "$PY" -m venv .venv
fi
VPY=.venv/bin/python

stamp=.venv/.vsvfi-installed
want=$(sha256sum pyproject.toml | cut -c1-64)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing vsvfi[gpu,export,test,evaluate,ray] and dependencies (torch is large; first run takes a few minutes)"
    $VPY -m pip install -q --disable-pip-version-check -U pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
    $VPY -m pip install -q --disable-pip-version-check -e ".[gpu,export,test,evaluate,ray]" 2>&1 | grep -v '^WARNING: Location' >&2 || true
    $VPY -c 'import vapoursynth, onnxruntime, torch, onnx, pytest, hypothesis, skimage, flip_evaluator, PIL, platformdirs, ray; vapoursynth.core.mv' \
        || { echo "setup: pip install failed" >&2; exit 1; }
    echo "$want" > "$stamp"
fi
# vspipe finds Python through this config file; cheap, so always refresh it.
.venv/bin/vapoursynth config >/dev/null

$VPY -m vsvfi.export 2>&1 | grep -v -i 'warning' >&2 || true
$VPY -c 'from vsvfi.models import verified_model, MODELS; [verified_model(m) for m in MODELS]'
$VPY -c 'from vsvfi import assets; [assets.fetch(a) for a in assets.SAMPLES.values()]'
log "ready"

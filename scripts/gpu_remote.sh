#!/usr/bin/env bash
# On a GPU machine without network (see scripts/gpu_payload.sh): gather the payload chunks
# (copied to /tmp/payload by earlier commands, or carried in .payload/), unpack them once into
# /tmp/x, point Python at that site directory and at the CUDA / cuDNN libraries of the
# machine's torch wheels, and run scripts/gpu_check.py with the given options, writing
# gpu_check.md, gpu_check.json and log.txt to $OUT (or ./gpu-check-out).
#
#     bash scripts/gpu_remote.sh [gpu_check.py options]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check-out}
mkdir -p /tmp/payload "$out"
cp .payload/c*/part_* /tmp/payload/ 2>/dev/null
if [ ! -d /tmp/x/site ]; then
    mkdir -p /tmp/x
    # Python's lzma: no xz binary needed there
    cat $(ls /tmp/payload/part_* | sort) | python3 -c \
        "import sys, tarfile; tarfile.open(fileobj=sys.stdin.buffer, mode='r|xz').extractall('/tmp/x', filter='tar')" \
        || { echo "gpu_remote: could not unpack the payload (all chunks copied?)" >&2; rm -rf /tmp/x; exit 1; }
fi
# onnxruntime.preload_dlls looks for nvidia/ beside the onnxruntime package: the torch wheels' one
sp=$(python3 -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
[ -d "$sp/nvidia" ] && ln -sfn "$sp/nvidia" /tmp/x/site/nvidia
LD_LIBRARY_PATH=$(ls -d "$sp"/nvidia/*/lib 2>/dev/null | paste -sd:)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH PYTHONPATH=/tmp/x/site VSVFI_MODEL_DIR=/tmp/x/models VSVFI_CACHE=/tmp/x/cache
export PYTHONUNBUFFERED=1
python3 scripts/gpu_check.py --out "$out" "$@" 2>&1 | tee "$out/log.txt"

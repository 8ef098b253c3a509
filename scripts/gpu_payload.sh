#!/usr/bin/env bash
# Build what a GPU machine without network needs to run scripts/gpu_check.py: onnxruntime-gpu
# (CUDA provider; its CUDA 13 / cuDNN 9 libraries come from the machine's torch wheels),
# VapourSynth and bestsource unpacked as a site directory, the exported rife46/rife39 graphs
# with their manifest, and the bigbuckbunny sample. Libraries are stripped, everything goes
# into one tar.xz, split into equal chunks in .payload/c0, c1, ... (git-ignored), each small
# enough to travel with the working tree in one command (64 MiB in all).
#
#     scripts/gpu_payload.sh              # after scripts/setup.sh; about 5 minutes on 2 cores
#
# Then, on the machine, one command per chunk, each carrying its chunk:
#     mkdir -p /tmp/payload && cp .payload/cK/* /tmp/payload/
# and last, carrying the last chunk:   bash scripts/gpu_remote.sh [gpu_check.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
ORT=onnxruntime-gpu==1.31.1
VS=vapoursynth==81
BS=vapoursynth-bestsource==22
MODELS=(rife46 rife39)

grep -qx '/.payload/' .git/info/exclude 2>/dev/null || echo '/.payload/' >> .git/info/exclude
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 -d "$work/whl" "$ORT" "$VS" "$BS"
mkdir -p "$work/all/site" "$work/all/models" "$work/all/cache/assets"
for w in "$work"/whl/*.whl; do (cd "$work/all/site" && unzip -q -o "$w"); done
# What gpu_check.py does not use: the C API library, the TensorRT provider (no TensorRT
# there), ORT's Python tools; the rest is stripped of symbols.
rm -rf "$work"/all/site/onnxruntime/capi/libonnxruntime.so.* \
       "$work"/all/site/onnxruntime/capi/libonnxruntime_providers_tensorrt.so \
       "$work"/all/site/onnxruntime/{transformers,quantization,tools,datasets}
find "$work/all/site" -name '*.so*' -type f -exec strip --strip-unneeded {} + 2>/dev/null || true
for m in "${MODELS[@]}"; do cp "models/$m.onnx" "$work/all/models/"; done
cp models/manifest.json "$work/all/models/"
.venv/bin/python -c 'from vsvfi import assets; print(assets.fetch(assets.SAMPLES["bigbuckbunny"]))' \
    | xargs -I{} cp {} "$work/all/cache/assets/"
tar cf - -C "$work/all" . | xz -9e -T2 -c > "$work/all.tar.xz"

# Chunk size: 64 MiB less the working tree that travels with every command, less 256 KiB.
tree=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
limit=$(( 64 * 1024 * 1024 - tree - 256 * 1024 ))
size=$(stat -c %s "$work/all.tar.xz")
n=$(( (size + limit - 1) / limit ))
rm -rf .payload && mkdir -p .payload
(cd "$work" && split -n "$n" -d -a 1 all.tar.xz part_)
for ((k = 0; k < n; k++)); do mkdir -p ".payload/c$k" && mv "$work/part_$k" ".payload/c$k/"; done
echo "payload: $size bytes in $n chunks (.payload/c0 .. c$((n - 1))), sha256 $(sha256sum "$work/all.tar.xz" | cut -c1-16)"

#!/usr/bin/env bash
# The main job on a real clip: set up (idempotent), then interpolate the bikes sample
# (640x272, 25 fps) to 50 fps into out/bikes_50fps.mp4.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p out
exec .venv/bin/vsvfi .cache/assets/bikes.mp4 -o out/bikes_50fps.mp4 --fps 50 --overwrite "$@"

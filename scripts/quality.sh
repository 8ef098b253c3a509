#!/usr/bin/env bash
# Regenerate the frame-dropping quality results for docs/quality.md: the three sample clips
# at k = 2 and 4, every vsvfi variant against the baselines and the installed peers.
#   docs/quality-table.md   tables, command, date, machine and versions (pasted under "Full tables" in docs/quality.md)
#   docs/quality.json       everything, per-frame values included
#   docs/img/quality/*.png  one labelled image strip per clip
# Extra arguments go to vsvfi evaluate (e.g. --frames 40 for a quick check, --no-ssim).
# On a 2-core CPU-only machine the full run takes about an hour (bigbuckbunny, 1280x720, is
# two thirds of it): the RIFE variants on ONNX Runtime's CPU EP and SSIM are the slow parts.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

METHODS=rife46,rife46:scale=0.5,rife46:scale=auto,rife46:ensemble=1,rife46:protect_static=0,rife39,dup,blend,mv-flowfps,mv-blockfps,minterpolate
exec .venv/bin/vsvfi evaluate --samples --k 2 4 --methods "$METHODS" \
    --markdown docs/quality-table.md --json docs/quality.json --strips docs/img/quality "$@"

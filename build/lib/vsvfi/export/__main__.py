"""python -m vsvfi.export [MODEL ...] [--force]: export models to ONNX (default: all)."""

import argparse
import sys

from ..models import MODELS
from . import export

p = argparse.ArgumentParser(prog="python -m vsvfi.export", description=__doc__)
p.add_argument("models", nargs="*", help=f"models to export (default: all of {', '.join(MODELS)})")
p.add_argument("--force", action="store_true", help="export again even if the file matches the manifest")
a = p.parse_args()
for m in a.models or list(MODELS):
    if m not in MODELS:
        sys.exit(f"vsvfi.export: unknown model {m!r}; known: {', '.join(MODELS)}")
    export(m, force=a.force)

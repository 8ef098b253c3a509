"""sha256 of every output frame of ``Interpolate`` on a bikes excerpt, per model and ratio.

A refactor must not change a single output bit: ``--check`` compares with
tests/data/frame_hashes.json (tests/test_frame_hashes.py does the same in CI). Recorded
before the issue-11 restructure (which kept them), again when issue 12 changed the
static-pixel blend on purpose, and when it changed the overlay masks (grown into static
pixels, a 1 px rim, pixels a dominant motion explains dropped), and when the background
under overlays came to be read along the pair's motion (vsvfi.overlay_motion), and when pixels
beside an overlay inside a large static region became static candidates instead of kept, and when seeds
whose static edges across and along are faint were dropped, and when overlays over a still
textured background came to stay in the network's inputs, and when the blend came to go in
where the network's frame lost the static structure both source frames share; record them again only
with a change that means to alter the output, and say so in its commit. The excerpt is bikes frames 0-7 (one fast-motion stretch) scaled to
320x136 with zimg, so that gmfss renders in seconds on the CPU provider.

    python scripts/frame_hashes.py            # write tests/data/frame_hashes.json
    python scripts/frame_hashes.py --check    # compare, exit 1 on any difference
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import vapoursynth as vs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vsvfi import Interpolate, assets  # noqa: E402

HASHES = ROOT / "tests" / "data" / "frame_hashes.json"
MODELS = ("rife46", "rife39", "gmfss")
RATIOS = ("2", "5/2")
core = vs.core


def excerpt() -> vs.VideoNode:
    clip = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bikes"])))[:8]
    return core.resize.Bicubic(clip, 320, 136)


def frame_hash(frame: vs.VideoFrame) -> str:
    h = hashlib.sha256()
    for p in range(frame.format.num_planes):
        h.update(bytes(frame[p]))
    return h.hexdigest()[:16]


def render() -> dict[str, list[str]]:
    core.num_threads = 2
    src = excerpt()
    out = {}
    for model in MODELS:
        for ratio in RATIOS:
            clip = Interpolate(src, ratio=ratio, model=model, provider="cpu")
            out[f"{model} x{ratio}"] = [frame_hash(f) for f in clip.frames()]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the recorded hashes instead of writing them")
    args = ap.parse_args()
    got = render()
    if not args.check:
        HASHES.write_text(json.dumps(got, indent=1) + "\n")
        print(f"wrote {HASHES}")
        return 0
    want = json.loads(HASHES.read_text())
    bad = [f"{k} frame {n}" for k in want for n, (a, b) in enumerate(zip(want[k], got.get(k, []))) if a != b]
    bad += [k for k in want if len(want[k]) != len(got.get(k, []))]
    print("\n".join(bad) if bad else "all frames bit-identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

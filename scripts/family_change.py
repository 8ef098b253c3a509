"""The defaults' mean per family in two runs of scripts/hard_scenes.py, as a markdown table:
the ``default`` column of docs/hard-scenes.json as committed at git revision REV beside the
file in the working tree (overlays inside the boxes; PSNR dB / FLIP; the last two columns
are the largest loss and gain on one case).

    .venv/bin/python scripts/family_change.py REV [--json docs/hard-scenes.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def table(old: list[dict], new: list[dict], rev: str) -> str:
    before = {r["name"]: r for r in old if "psnr" in r}
    fams: dict[str, list[tuple[float, float, float, float]]] = {}
    for r in new:
        if "psnr" not in r or r["name"] not in before:
            continue
        region = "inside" if "inside" in r["psnr"] else "all"
        o = before[r["name"]]
        fams.setdefault(r["family"], []).append((o["psnr"][region]["default"], r["psnr"][region]["default"],
                                                 o["flip"][region]["default"], r["flip"][region]["default"]))
    lines = [f"| family | cases | `{rev}` | now | worst case | best case |", "|---|---|---|---|---|---|"]
    for fam, vals in fams.items():
        v = np.array(vals)
        d = v[:, 1] - v[:, 0]
        lines.append(f"| {fam} | {len(v)} | {v[:, 0].mean():.2f} / {v[:, 2].mean():.3f} | "
                     f"{v[:, 1].mean():.2f} / {v[:, 3].mean():.3f} | {d.min():+.2f} | {d.max():+.2f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rev")
    p.add_argument("--json", default="docs/hard-scenes.json")
    a = p.parse_args()
    old = json.loads(subprocess.run(["git", "show", f"{a.rev}:{a.json}"], cwd=ROOT, check=True,
                                    capture_output=True, text=True).stdout)
    print(table(old, json.loads((ROOT / a.json).read_text()), a.rev))
    return 0


if __name__ == "__main__":
    sys.exit(main())

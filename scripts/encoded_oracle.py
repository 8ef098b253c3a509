"""Where the encoded overlay cases lose: on the text, or on the background around it?

For every overlay case through x264 (``vsvfi.families_overlay.x264``), the text pixels are
those inside the case's boxes that are exactly equal in the clean twin's two frames (the
overlay, its outline and shadow). The default's middle frame is scored inside the boxes as
it is, and with every text pixel replaced by the blend of the two encoded frames: what a
protection that found all of the text, and changed nothing else, would get there. Per
overlay set: cases at blend + 2 dB or more, and the mean against the blend.

    .venv/bin/python scripts/encoded_oracle.py

Prints a Markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from hard_scenes import psnr, render  # noqa: E402
from vsvfi import families  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402


def measure() -> dict[str, list[tuple[float, float, float]]]:
    """Per overlay set, (blend, default, default with the text blended) PSNR dB inside the boxes."""
    clean: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    sets: dict[str, list[tuple[float, float, float]]] = {}
    for case in families.cases("overlay"):
        a, mid, b = (frame_array(case.clip.get_frame(k)) for k in range(3))
        twin = case.name.split(" x264")[0]
        if "x264" not in case.name:
            clean[twin] = (a, b)
            continue
        ca, cb = clean[twin]
        text = (ca == cb).all(axis=0) & case.mask
        out = render(a, b)[0]
        blend = ((a.astype(np.uint16) + b + 1) // 2).astype(np.uint8)
        oracle = np.where(text[None], blend, out)
        name = twin.removeprefix("overlay ").split(" over ")[0]
        sets.setdefault(name, []).append(tuple(psnr(x, mid, case.mask) for x in (blend, out, oracle)))
    return sets


def markdown(sets: dict[str, list[tuple[float, float, float]]]) -> str:
    lines = ["| overlay set (x264) | cases | default: met, mean vs blend | text given the blend: met, mean vs blend |",
             "|---|---|---|---|"]
    total = np.zeros(2, int)
    for name, rows in sets.items():
        r = np.array(rows)
        met = [(r[:, k] >= r[:, 0] + 2).sum() for k in (1, 2)]
        total += met
        lines.append(f"| {name} | {len(r)} | {met[0]}, {np.mean(r[:, 1] - r[:, 0]):+.2f} | "
                     f"{met[1]}, {np.mean(r[:, 2] - r[:, 0]):+.2f} |")
    lines.append(f"| **all** | {sum(map(len, sets.values()))} | **{total[0]}** | **{total[1]}** |")
    return "\n".join(lines)


def main() -> int:
    print(markdown(measure()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

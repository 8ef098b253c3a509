"""Where the encoded overlay cases lose: on the text, or on the background around it?

For every overlay case through x264 (``vsvfi.families_overlay.x264``), the text pixels are
those inside the case's boxes that are exactly equal in the clean twin's two frames (the
overlay, its outline and shadow). The default's middle frame is scored inside the boxes as
it is, and with every text pixel replaced by the blend of the two encoded frames: what a
protection that found all of the text, and changed nothing else, would get there. Per
overlay set: cases at blend + 2 dB or more, and the mean against the blend.

    .venv/bin/python scripts/encoded_oracle.py
    .venv/bin/python scripts/encoded_oracle.py --twin-masks

Prints a Markdown table.

With ``--twin-masks``, instead: would masks found as well under the codec's noise as on
clean frames reach the goal? Every x264 case is rendered with some of the protection's
masks (the fields of ``vsvfi.protect.Masks`` that ``vsvfi.filter`` reads, its
``masks_and_motion`` replaced in this process) made from the clean twin's two frames
instead: all of them; ``overlay`` alone (what is painted out of the network's inputs);
``keep`` alone (where the blend goes in, and what the layer fit reads). Per overlay set:
cases at blend + 2 dB, and the mean against the blend. Then, over all x264 cases, where the
squared error inside the boxes lies, by distance (pixels) from the text: the blend, the
defaults and the twin's masks.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from hard_scenes import psnr, render  # noqa: E402
from scipy import ndimage  # noqa: E402

import vsvfi.filter  # noqa: E402
from vsvfi import families  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402


def encoded_cases():
    """Each x264 case of the overlay family: (case, its three frames a, mid, b, its clean
    twin's a and b, the text pixels (inside the boxes, equal in the twin's two frames), the
    blend of a and b, the overlay set's name); uint8 (3, H, W) frames."""
    clean: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for case in families.cases("overlay"):
        a, mid, b = (frame_array(case.clip.get_frame(k)) for k in range(3))
        twin = case.name.split(" x264")[0]
        if "x264" not in case.name:
            clean[twin] = (a, b)
            continue
        ca, cb = clean[twin]
        text = (ca == cb).all(axis=0) & case.mask
        blend = ((a.astype(np.uint16) + b + 1) // 2).astype(np.uint8)
        yield case, a, mid, b, ca, cb, text, blend, twin.removeprefix("overlay ").split(" over ")[0]


def measure() -> dict[str, list[tuple[float, float, float]]]:
    """Per overlay set, (blend, default, default with the text blended) PSNR dB inside the boxes."""
    sets: dict[str, list[tuple[float, float, float]]] = {}
    for case, a, mid, b, _, _, text, blend, name in encoded_cases():
        out = render(a, b)[0]
        oracle = np.where(text[None], blend, out)
        sets.setdefault(name, []).append(tuple(psnr(x, mid, case.mask) for x in (blend, out, oracle)))
    return sets


def markdown(sets: dict[str, list[tuple[float, ...]]], cols=("default", "text given the blend")) -> str:
    """Per overlay set, the cases at blend + 2 dB and the mean against the blend (the first
    value of each row) of each further column, named by ``cols``."""
    lines = ["| overlay set (x264) | cases | " + " | ".join(f"{c}: met, mean vs blend" for c in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    total = np.zeros(len(cols), int)
    for name, rows in sets.items():
        r = np.array(rows)
        met = [(r[:, k] >= r[:, 0] + 2).sum() for k in range(1, r.shape[1])]
        total += met
        lines.append(f"| {name} | {len(r)} | " + " | ".join(
            f"{m}, {np.mean(r[:, k + 1] - r[:, 0]):+.2f}" for k, m in enumerate(met)) + " |")
    lines.append(f"| **all** | {sum(map(len, sets.values()))} | " + " | ".join(f"**{t}**" for t in total) + " |")
    return "\n".join(lines)


#: The sets of mask fields --twin-masks takes from the clean twin, and their column names.
TWIN_FIELDS = {"all masks": ("static", "overlay", "keep", "shifts", "layer_keep", "groups"),
               "overlay alone": ("overlay",), "keep alone": ("keep",)}
#: Distances (pixels from the text) of the error table; the last bin holds the rest.
DISTANCES = 6


@contextmanager
def twin_masks(pair: tuple[np.ndarray, np.ndarray], fields: tuple[str, ...]):
    """vsvfi.filter's masks with ``fields`` made from ``pair`` (float32 (3, H, W) in [0, 1])
    instead, for the first pass of each source pair (the one with the codec seeds)."""
    real = vsvfi.filter.masks_and_motion

    def patched(a, b, params, codec=True):
        m = real(a, b, params, codec)
        if codec:
            twin = real(*pair, params, codec)
            m = m._replace(**{k: getattr(twin, k) for k in fields})
        return m

    vsvfi.filter.masks_and_motion = patched
    try:
        yield
    finally:
        vsvfi.filter.masks_and_motion = real


def twin_measure() -> tuple[dict[str, list[tuple[float, ...]]], np.ndarray]:
    """Per overlay set, (blend, default, each of TWIN_FIELDS) PSNR dB inside the boxes; and
    the squared error inside the boxes (blend, default, all twin masks; rows) summed per
    distance from the text (columns)."""
    sets: dict[str, list[tuple[float, ...]]] = {}
    by_distance = np.zeros((3, DISTANCES + 1))
    for case, a, mid, b, ca, cb, text, blend, name in encoded_cases():
        dist = np.minimum(ndimage.distance_transform_edt(~text), DISTANCES).astype(int)[case.mask]
        outs = [blend, render(a, b)[0]]
        pair = tuple(x.astype(np.float32) / 255 for x in (ca, cb))
        for fields in TWIN_FIELDS.values():
            with twin_masks(pair, fields):
                outs.append(render(a, b)[0])
        for row, out in enumerate(outs[:3]):
            err = ((out.astype(np.float64) - mid) ** 2).sum(axis=0)[case.mask]
            by_distance[row] += np.bincount(dist, err, DISTANCES + 1)
        sets.setdefault(name, []).append(tuple(psnr(x, mid, case.mask) for x in outs))
    return sets, by_distance


def twin_markdown(sets: dict[str, list[tuple[float, ...]]], by_distance: np.ndarray) -> str:
    lines = [markdown(sets, ["defaults", *(f"the twin's {k}" for k in TWIN_FIELDS)])]
    heads = [str(d) for d in range(DISTANCES)] + [f"{DISTANCES}+"]
    lines += ["", "| squared error inside the boxes, share of the blend's total, by distance from the text (px) | "
              + " | ".join(heads) + " | all |", "|---|" + "---|" * (DISTANCES + 2)]
    scale = by_distance[0].sum()
    for label, row in zip(("blend", "defaults", "the twin's masks"), by_distance):
        lines.append(f"| {label} | " + " | ".join(f"{100 * v / scale:.1f} %" for v in row)
                     + f" | {100 * row.sum() / scale:.1f} % |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--twin-masks", action="store_true", help="the cases with masks made from the clean twin instead")
    if ap.parse_args().twin_masks:
        print(twin_markdown(*twin_measure()))
        return 0
    print(markdown(measure()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The static-overlay protection on upscaled frames: the overlay family (vsvfi.families_overlay,
640x360, uncompressed) resized (bicubic) to 1280x720 and 1920x1080, beside its own size.

The family was tuned at 640x360, and the protection's radii and tests are in pixels. Held-out
overlays drawn sharp at 1280x720 (scripts/heldout_overlays.py) do about as well as at 640x360;
an upscaled frame is different: every edge, and every anti-aliased edge of the text, is 2 or
3 pixels of mixed colours (docs/protection.md, "What it cannot do").

    python scripts/overlay_sizes.py [--out FILE] [--variant full-size --sizes 2 3]
    python scripts/overlay_sizes.py --sharpness [--out FILE]

Prints (or writes) markdown: per size and per overlay set, how many cases meet issue 12's goals
(inside the boxes at least a blend + 2 dB, or exact where the blend is exact too; outside them
within 0.3 dB of ``protect_static=False``), with the means; then per size and background.
PSNR is RGB at t = 0.5 against the middle frame resized the same way; the boxes are the
family's, scaled. About 25 minutes on the CPU provider.

The filter joins the masks of a soft frame 1280 px wide and up with those of the pair
averaged down to about 640 px wide (vsvfi.upscaled); ``--variant full-size`` scores the
masks of the frame at its size alone, as before that. ``--sharpness`` prints instead the
range of ``vsvfi.upscaled.sharpness`` (what makes a frame soft) on frames sharp at their
size and upscaled ones (about 2 minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import platform
import sys
from pathlib import Path

import numpy as np
import vapoursynth as vs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from hard_scenes import psnr, render  # noqa: E402
from vsvfi import families, protect  # noqa: E402
from vsvfi import filter as vsvfi_filter  # noqa: E402
from vsvfi.colour import default_matrix_name  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402

core = vs.core
#: The family's overlay sets and backgrounds, as its case names spell them.
SETS = ("white 32px subtitle", "yellow 24px subtitle", "black 48px caption", "patch logos", "text logos",
        "white 14px labels", "running timecode", "broadcast subtitle")
BACKGROUNDS = ("pan", "zoom", "shake", "static")


@contextlib.contextmanager
def variant(name: str):
    """The filter's masks as variant ``name`` while inside."""
    saved = vsvfi_filter.masks_and_motion
    if name == "full-size":
        vsvfi_filter.masks_and_motion = protect.masks_and_motion
    try:
        yield
    finally:
        vsvfi_filter.masks_and_motion = saved


def measure(k: int) -> list[dict]:
    """One row per clean overlay case at ``k`` times its size."""
    rows = []
    for case in families.cases("overlay"):
        if "x264" in case.name:
            continue
        clip = case.clip if k == 1 else core.resize.Bicubic(case.clip, case.clip.width * k, case.clip.height * k)
        a, mid, b = (frame_array(clip.get_frame(i)) for i in range(3))
        mask = np.repeat(np.repeat(case.mask, k, axis=0), k, axis=1)
        on, off = render(a, b)[0], render(a, b, protect_static=False)[0]
        blend = ((a.astype(np.uint16) + b + 1) // 2).astype(np.uint8)
        rows.append({"name": case.name.removeprefix("overlay "), "inside": psnr(on, mid, mask),
                     "blend": psnr(blend, mid, mask), "off": psnr(off, mid, mask),
                     "outside": psnr(on, mid, ~mask), "outside_off": psnr(off, mid, ~mask)})
    return rows


def _met(r: dict) -> bool:
    return r["inside"] >= r["blend"] + 2 or (r["blend"] >= 100 and r["inside"] >= 100)


def _line(label: str, rows: list[dict]) -> str:
    finite = [r for r in rows if r["blend"] < 100]
    gain = np.array([r["inside"] - r["blend"] for r in finite]) if finite else np.zeros(1)
    out = np.array([r["outside"] - r["outside_off"] for r in rows])
    return (f"| {label} | {len(rows)} | {sum(map(_met, rows))} | {gain.mean():+.2f} ({gain.min():+.2f}) | "
            f"{sum(o >= -0.3 for o in out)} | {out.mean():+.2f} ({out.min():+.2f}) |")


def report(sizes: tuple[int, ...] = (1, 2, 3), name: str = "default") -> str:
    head = ["| {} | cases | inside: blend + 2 dB | inside: on - blend, mean (worst) | outside: within 0.3 dB of off "
            "| outside: on - off, mean (worst) |", "|---|---|---|---|---|---|"]
    with variant(name):
        by_size = {k: measure(k) for k in sizes}
    lines = [head[0].format("size"), head[1]]
    lines += [_line(f"{640 * k}x{360 * k}", rows) for k, rows in by_size.items()]
    for title, keys in (("overlay set", SETS), ("background", BACKGROUNDS)):
        lines += ["", head[0].format(f"{title}, size"), head[1]]
        for key in keys:
            for k, rows in by_size.items():
                sub = [r for r in rows if (r["name"].startswith(key) if title == "overlay set" else f" over {key}" in r["name"])]
                lines.append(_line(f"{key}, {640 * k}x{360 * k}", sub))
    lines += ["", "| case | " + " | ".join(f"{640 * k}x{360 * k}: on / blend / off" for k in sizes) + " |",
              "|---|" + "---|" * len(sizes)]
    for i, r in enumerate(by_size[sizes[0]]):
        cells = [f"{by_size[k][i]['inside']:.2f} / {by_size[k][i]['blend']:.2f} / {by_size[k][i]['off']:.2f}" for k in sizes]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    cmd = " ".join(["python scripts/overlay_sizes.py", *sys.argv[1:]])
    intro = (f"# The overlay family on upscaled frames{'' if name == 'default' else ', variant ' + name}\n\n"
             f"Produced by `{cmd}` on {datetime.date.today()} ({platform.machine()}, CPU provider). What the cases are: "
             "the script's docstring; inside: the overlays' boxes grown by 2 px (scaled); `on`/`off`: `protect_static` "
             "True/False; PSNR dB, RGB.\n")
    return "\n".join([intro, *lines, ""])


def _rgb(clip: vs.VideoNode, width: int | None = None) -> vs.VideoNode:
    width = width or clip.width
    height = clip.height * width // clip.width // 2 * 2
    return core.resize.Bicubic(clip, width, height, format=vs.RGBS,
                               matrix_in_s=default_matrix_name(clip.width, clip.height))


def sharpness_table() -> str:
    """The range of vsvfi.upscaled.sharpness over each kind of frame, as markdown."""
    import heldout_overlays

    from vsvfi import assets, upscaled

    def read(clip: vs.VideoNode, frames) -> list[float]:
        f = clip.width // 640
        return [upscaled.sharpness(np.clip(frame_array(clip.get_frame(n)), 0, 1), f) for n in frames]

    bbb = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bigbuckbunny"])))
    bikes = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bikes"])))
    spread = range(0, bbb.num_frames, bbb.num_frames // 12)
    held = [upscaled.sharpness(a.astype(np.float32) / 255, 2)
            for _, _, _, a, *_ in heldout_overlays.cases(k=2, count=heldout_overlays.LARGE)]
    overlay = [c.clip for c in families.cases("overlay") if "x264" not in c.name]
    wide = [c.clip for fam in ("pan", "large-motion") for c in families.cases(fam) if c.clip.width >= 1280]
    kinds = {"bigbuckbunny at its own 1280x720 (frames spread over the clip)": read(_rgb(bbb), spread),
             "held-out overlays at 1280x720 (text drawn at that size; backgrounds upscaled or sharp)": held,
             "bigbuckbunny resized to 1920x1080 (1.5x)": read(_rgb(bbb, 1920), spread),
             "the overlay family 2x (1280x720)": [read(core.resize.Bicubic(_rgb(c), 1280, 720), [0])[0] for c in overlay],
             "the overlay family 3x (1920x1080)": [read(core.resize.Bicubic(_rgb(c), 1920, 1080), [0])[0] for c in overlay],
             "the families' pans and large motion 1280 px wide (bigbuckbunny upscaled 2x)":
                 [read(_rgb(c), [0])[0] for c in wide],
             "bikes at 1280 px wide (2x)": read(_rgb(bikes, 1280), range(0, bikes.num_frames, 10)),
             "bikes at 1920 px wide (3x)": read(_rgb(bikes, 1920), range(0, bikes.num_frames, 10))}
    cmd = " ".join(["python scripts/overlay_sizes.py", *sys.argv[1:]])
    lines = ["# The sharpness of upscaled and sharp frames", "",
             f"Produced by `{cmd}` on {datetime.date.today()}; soft below `SOFT` = {upscaled.SOFT}.", "",
             "| frames | count | sharpness, min-max | soft |", "|---|---|---|---|"]
    for label, v in kinds.items():
        lines.append(f"| {label} | {len(v)} | {min(v):.2f}-{max(v):.2f} | {sum(x < upscaled.SOFT for x in v)} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write the markdown here instead of printing it")
    ap.add_argument("--variant", choices=("default", "full-size"), default="default")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 3], help="factors of 640x360")
    ap.add_argument("--sharpness", action="store_true", help="the sharpness of frames of each kind instead")
    args = ap.parse_args()
    text = sharpness_table() + "\n" if args.sharpness else report(tuple(args.sizes), args.variant)
    (args.out.write_text if args.out else print)(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

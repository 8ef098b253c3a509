"""Families of generated test cases built from real frames of the sample clips, for tuning
and testing the filter's per-pair decisions: scene-change detection (cut, fade, flash),
static-overlay protection (overlay) and the flow scale (pan, large-motion, zoom, shake,
object, periodic).

    cases(family=None, quick=False) -> list[Case]

Each :class:`Case` holds a 3-frame RGB24 clip: source frame a, the middle frame at
t = 0.5 and source frame b. Where the motion allows it the middle is exact (pans, shakes,
objects and patterns move by even or area-sampled amounts; fades are the mix at the half
step); zooms are close (see :func:`vsvfi.families_motion.zoom_clip`); cuts and flashes
carry ``truth=False``. Case names state the parameters; ``stem#frame[xN]@x,y+dx,dy``
is a window at (x, y) of a (N times upscaled) frame moving (dx, dy) from a to b.

Clips are lazy: building the cases decodes the few source frames (cached) and nothing
else, but for the encoded overlay cases, whose pair goes through x264 when they are built
(ffmpeg with libx264; about 0.1 s a case). ``python -m vsvfi.families [--full] [--png DIR]`` prints a table of the families
and can write contact sheets of the cases for eyeballing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from .families_common import FAMILIES, Case
from .families_motion import (cut_cases, fade_cases, flash_cases, large_motion_cases, object_cases, pan_cases,
                              shake_cases, zoom_cases)
from .families_overlay import overlay_cases
from .families_periodic import periodic_cases
from .frames import frame_array

__all__ = ["Case", "FAMILIES", "cases"]

_BUILDERS = {"cut": cut_cases, "fade": fade_cases, "pan": pan_cases, "zoom": zoom_cases, "shake": shake_cases,
             "flash": flash_cases, "object": object_cases, "overlay": overlay_cases, "periodic": periodic_cases,
             "large-motion": large_motion_cases}
assert tuple(_BUILDERS) == FAMILIES


def cases(family: str | None = None, quick: bool = False) -> list[Case]:
    """The cases of ``family`` (one of :data:`FAMILIES`), or of all families in that order.
    ``quick``: a small representative subset of each family (about 50 cases in all)."""
    if family is not None and family not in _BUILDERS:
        raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    return [c for f in ((family,) if family else FAMILIES) for c in _BUILDERS[f](quick)]


def _table(full: bool) -> list[tuple[str, list[Case], list[Case] | None, float]]:
    rows = []
    for f in FAMILIES:
        t0 = time.perf_counter()
        quick = cases(f, quick=True)
        rows.append((f, quick, cases(f) if full else None, time.perf_counter() - t0))
    return rows


def contact_sheet(family_cases: list[Case], path: Path, thumb: int = 256) -> None:
    """A PNG at ``path``: one row per case (a, middle, b, each ``thumb`` px wide) under its
    name; overlay masks drawn as a red outline on the middle frame. Needs Pillow."""
    from PIL import Image, ImageDraw

    rows = []
    for c in family_cases:
        frames = [frame_array(c.clip.get_frame(i)).transpose(1, 2, 0) for i in range(3)]
        if c.mask is not None:
            edge = c.mask ^ np.pad(c.mask, 1)[2:, 1:-1] | c.mask ^ np.pad(c.mask, 1)[1:-1, 2:]
            frames[1] = frames[1].copy()
            frames[1][edge] = (255, 0, 0)
        th = max(1, round(thumb * c.clip.height / c.clip.width))
        ims = [Image.fromarray(np.ascontiguousarray(f)).resize((thumb, th), Image.LANCZOS) for f in frames]
        row = Image.new("RGB", (3 * thumb + 8, th + 16), (40, 40, 40))
        for i, im in enumerate(ims):
            row.paste(im, (i * (thumb + 4), 16))
        ImageDraw.Draw(row).text((2, 2), f"{c.name}  motion {c.motion:.0f}px{'' if c.truth else '  (no truth)'}",
                                 fill=(255, 255, 255))
        rows.append(row)
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), (40, 40, 40))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(path)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Families of generated test cases (vsvfi.families).")
    p.add_argument("--full", action="store_true", help="also build the full families (counts)")
    p.add_argument("--png", metavar="DIR", help="write a contact sheet of each family's quick cases to DIR")
    a = p.parse_args(argv)
    rows = _table(a.full)
    print(f"{'family':13s} {'quick':>5s} {'full':>5s} {'build s':>7s}  examples")
    for f, quick, full, secs in rows:
        examples = "; ".join(c.name for c in quick[:2])
        print(f"{f:13s} {len(quick):5d} {len(full) if full is not None else '-':>5} {secs:7.2f}  {examples}")
    total_full = sum(len(r[2]) for r in rows) if a.full else "-"
    print(f"{'total':13s} {sum(len(r[1]) for r in rows):5d} {total_full:>5}")
    if a.png:
        out = Path(a.png)
        out.mkdir(parents=True, exist_ok=True)
        for f, quick, _, _ in rows:
            contact_sheet(quick, out / f"{f}.png")
        print(f"wrote {len(rows)} contact sheets to {out}")


if __name__ == "__main__":
    main()

"""Cost of the static-overlay protection per source pair (vsvfi.protect): the strip-wise
masks and tile-wise fill the filter uses against the same code in one pass over the frame
(``protect._static_masks`` / ``neighbourhood._fill``), on real frame pairs resized to 1920x1080
(two of the sample clips, a still shot of bigbuckbunny, and a subtitle over a pan from the
overlay family),
from 1 and from ``--threads`` threads at once (the filter prepares pairs on every
VapourSynth thread). Prints a markdown table (docs/gpu.md, "The whole filter").

With ``--spread``, instead: the filter's masks on 10 pairs spread over each whole sample
clip (frames n, n + 1 every tenth of the clip), resized to 1920x1080, one thread: the
median and the slowest pair, and how many pairs have overlay pixels (docs/protection.md,
"Cost on real footage").

With ``--motion``, instead: on the same four pairs, one thread, what vsvfi.overlay_motion
adds: per pair, painting both frames (against the box fill alone) and the layer fit; per
output frame, unmix (docs/protection.md, "Cost").

With ``--codec``, instead: on the same four pairs and the subtitle over the pan through
x264, one thread, what the seeds through a codec's noise (vsvfi.encoded) add: the masks and
the layer search (vsvfi.translucent) as the filter runs them, against the masks without
those seeds (``masks_and_motion(codec=False)``) and a layer search that correlates the pair
itself, and the zoom route's test alone (``encoded.zoom_gate``, with a pair of labels over a
zoom through x264 and a pair of bikes where the camera zooms added). Every pair pays for
``encoded.dominant_share``, and where no shift dominates for ``encoded.zoom_gate``; pairs
where one motion dominates also for the seeds (docs/protection.md, "Seeds through the codec
where one motion dominates", "A zoom for the codec gate").

With ``--translucent``, instead: on the same four pairs and a semi-transparent logo pair
from the overlay family, one thread, what vsvfi.translucent adds: per pair, the search
(and, where it finds a layer, the separation), and per output frame, the composite
(docs/protection.md, "Semi-transparent overlays as layers").

    .venv/bin/python scripts/bench_protect.py [--threads 2] [--rounds 5]
    .venv/bin/python scripts/bench_protect.py --spread
    .venv/bin/python scripts/bench_protect.py --motion [--rounds 5]
    .venv/bin/python scripts/bench_protect.py --translucent [--rounds 5]
    .venv/bin/python scripts/bench_protect.py --codec [--rounds 5]
    .venv/bin/python scripts/bench_protect.py --upscaled [--rounds 5]
    .venv/bin/python scripts/bench_protect.py --see-through [--rounds 5]
    .venv/bin/python scripts/bench_protect.py --structure [--rounds 5]

With ``--see-through``, instead: on the same four pairs, the subtitle over the pan through
x264 and the held-out watermark over a sub-pixel pan (scripts/heldout_overlays.py), one
thread, what the see-through test (vsvfi.see_through) adds to the masks: the masks as the
filter makes them against the same with ``structure_static`` finding nothing (then its
seeds are not looked for). Pairs where one shift carries the motion pay for it
(docs/protection.md, "See-through overlays").

With ``--structure``, instead: on the see-through pairs, one thread, the filter's work per
pair up to the network (the masks, the layer search, the masks again where it found a layer,
and vsvfi.see_through.structure_parts) with the pair's high-pass made once
(``see_through.HighPass``, what the filter does) against each step making it again; and
structure_parts alone, and per output frame keep_structure, where the pair has parts; the
watermark burnt into carphone 29-31 (scripts/real_overlays.py) added (docs/protection.md,
"See-through overlays the network drags").

With ``--upscaled``, instead: on the same four pairs (all soft at 1920x1080: upscaled 1.5x
and 3x) and bigbuckbunny at its own 1280x720 (sharp), one thread, what vsvfi.upscaled adds:
the masks the filter makes against the full-size masks alone, and the sharpness test alone
(docs/protection.md, "Upscaled frames: the masks of the frame averaged down").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vsvfi import neighbourhood, protect  # noqa: E402
from vsvfi.colour import default_matrix_name  # noqa: E402

P = protect.DEFAULT
ARGS = (P,)
PROTECT_RADIUS = P.radius


def spread() -> int:
    """The --spread table."""
    import vapoursynth as vs

    from vsvfi import assets
    from vsvfi.frames import frame_array

    print("| clip (1920x1080) | pairs | masks ms, median | slowest pair ms | pairs with overlay pixels | "
          "overlay pixels, mean |")
    print("|---|---|---|---|---|---|")
    for name in assets.SAMPLES:
        c = vs.core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[name])))
        rgb = vs.core.resize.Bicubic(c, 1920, 1080, format=vs.RGBS, matrix_in_s=default_matrix_name(c.width, c.height))
        step = max(1, c.num_frames // 10)
        times, shares = [], []
        for n in list(range(0, c.num_frames - 1, step))[:10]:
            a, b = (np.clip(frame_array(rgb.get_frame(k)), 0, 1) for k in (n, n + 1))
            t0 = time.perf_counter()
            overlay = P.masks(a, b)[1]
            times.append(time.perf_counter() - t0)
            shares.append(float((overlay > 0).mean()))
        print(f"| {name} | {len(times)} | {1e3 * statistics.median(times):.0f} | {1e3 * max(times):.0f} | "
              f"{sum(x > 0 for x in shares)} | {100 * statistics.fmean(shares):.3f} % |")
    return 0


def one_pass(a, b, params):
    """static_masks without the strips: protect.masks_and_motion's steps on the whole frame."""
    return protect._masks_from(a, b, *protect._static_masks(a, b, params), params)[:3]


def pair_work(masks, fill, a, b):
    """What the filter does for one pair: the masks, then the fill of both frames."""
    static, overlay, keep = masks(a, b, *ARGS)
    if overlay.any():
        fill(a, overlay, PROTECT_RADIUS)
        fill(b, overlay, PROTECT_RADIUS)
    return static, overlay, keep


def motion(pairs: dict, rounds: int) -> int:
    """The --motion table."""
    from vsvfi import overlay_motion as om

    print("| pair (1920x1080) | shifts | overlay pixels | box fill of both frames, ms | paint both frames, ms "
          "| layers, ms per pair | unmix, ms per output frame |")
    print("|---|---|---|---|---|---|---|")
    for clip, (a, b) in pairs.items():
        m = protect.masks_and_motion(a, b)
        overlay, keep, shifts = m.overlay, m.keep, m.shifts
        runs = {"fill": [], "paint": [], "layers": [], "unmix": []}
        for _ in range(rounds):  # interleaved
            for name, work in (("fill", lambda: [neighbourhood.fill(x, overlay, PROTECT_RADIUS) for x in (a, b)]),
                               ("paint", lambda: [om.paint(x, y, overlay, shifts, PROTECT_RADIUS)
                                                  for x, y in ((a, b), (b, a))]),
                               ("layers", lambda: om.layers(a, b, keep, shifts))):
                t0 = time.perf_counter()
                fit = work()
                runs[name].append(time.perf_counter() - t0)
            frame = (a + b) / 2
            t0 = time.perf_counter()
            om.unmix(frame, a, b, 0.5, fit)
            runs["unmix"].append(time.perf_counter() - t0)
        ms = {k: 1e3 * statistics.median(v) for k, v in runs.items()}
        print(f"| {clip} | {len(shifts)} | {100 * float((overlay > 0).mean()):.3f} % | {ms['fill']:.0f} | "
              f"{ms['paint']:.0f} | {ms['layers']:.0f} | {ms['unmix']:.1f} |")
    print(f"\nmedian of {rounds} interleaved rounds, one thread.")
    return 0


def interleaved(works: dict, rounds: int) -> dict:
    """Median ms of each callable of ``works`` (name -> function) over ``rounds`` rounds, the
    works taking turns within each round (this machine's load drifts)."""
    runs = {k: [] for k in works}
    for _ in range(rounds):
        for k, work in works.items():
            t0 = time.perf_counter()
            work()
            runs[k].append(time.perf_counter() - t0)
    return {k: 1e3 * statistics.median(v) for k, v in runs.items()}


def codec(pairs: dict, rounds: int) -> int:
    """The --codec table."""
    from vsvfi import encoded
    from vsvfi import translucent as tl

    def now():  # what the filter does: the layer search reuses the masks' phase correlation
        m = protect.masks_and_motion(a, b)
        return tl.find(a, b, m.layer_keep, m.groups)

    def without():  # the masks without the codec seeds; the layer search correlates the pair itself
        return tl.find(a, b, protect.masks_and_motion(a, b, codec=False).keep)

    def zoomed():  # the zoom route's test alone, as the filter reads it where the shift gate is not open
        encoded.zoom_gate(a, b, spread, encoded.moving_pixels(a, b, spread))

    print("| pair (1920x1080) | dominant share | zoom gate | masks and layer search, ms | the same without the codec "
          "seeds, ms | the zoom gate alone, ms | overlay pixels | without the codec seeds |")
    print("|---|---|---|---|---|---|---|---|")
    for clip, (a, b) in pairs.items():
        spread = neighbourhood.range3(a)
        ms = interleaved({now: now, without: without, zoomed: zoomed}, rounds)
        share = encoded.dominant_share(a, b, protect.motion_shifts(a, b))
        gate = encoded.zoom_gate(a, b, spread)
        found = {c: float((protect.masks_and_motion(a, b, codec=c).overlay > 0).mean()) for c in (True, False)}
        print(f"| {clip} | {share:.2f} | {gate:.2f} | {ms[now]:.0f} | {ms[without]:.0f} | {ms[zoomed]:.1f} | "
              f"{100 * found[True]:.3f} % | {100 * found[False]:.3f} % |")
    print(f"\nmedian of {rounds} interleaved rounds, one thread.")
    return 0


def see_through(pairs: dict, rounds: int) -> int:
    """The --see-through table."""
    from unittest import mock

    from vsvfi import encoded

    def now():
        return protect.masks_and_motion(a, b)

    def without():  # structure_static finding nothing: its seeds are not looked for
        with mock.patch.object(protect, "structure_static", lambda x, y, **k: np.zeros(x.shape[1:], np.float32)):
            return protect.masks_and_motion(a, b)

    print("| pair (1920x1080) | dominant share | masks, ms | without the see-through test, ms | overlay pixels | "
          "without it |")
    print("|---|---|---|---|---|---|")
    for clip, (a, b) in pairs.items():
        ms = interleaved({now: now, without: without}, rounds)
        share = encoded.dominant_share(a, b, protect.motion_shifts(a, b))
        found = {k: float((k().overlay > 0).mean()) for k in ms}
        print(f"| {clip} | {share:.2f} | {ms[now]:.0f} | {ms[without]:.0f} | {100 * found[now]:.3f} % | "
              f"{100 * found[without]:.3f} % |")
    print(f"\nmedian of {rounds} interleaved rounds, one thread.")
    return 0


def structure(pairs: dict, rounds: int) -> int:
    """The --structure table."""
    from vsvfi import see_through as st
    from vsvfi import translucent as tl
    from vsvfi import upscaled as up

    def prepare(a, b, once: bool):  # vsvfi.filter's _prepare up to the network
        hp = st.HighPass(a, b) if once else None
        m = up.masks(a, b, P, highpass=hp)
        clear = tl.find(a, b, m.layer_keep, m.groups)
        if clear is not None:
            a, b = clear.backgrounds
            hp = st.HighPass(a, b) if once else None
            m = up.masks(a, b, P, codec=False, highpass=hp)
        return m, st.structure_parts(a, b, m.groups, m.keep, m.static, hp)

    print("| pair (1920x1080) | masks + layer search + structure_parts, ms | the same, the high-pass made by each "
          "step | structure_parts alone, ms | keep_structure per output frame, ms | parts' pixels |")
    print("|---|---|---|---|---|---|")
    for clip, (a, b) in pairs.items():
        m, found = prepare(a, b, True)
        frame = (a + b) / 2
        works = {"once": lambda: prepare(a, b, True), "each": lambda: prepare(a, b, False),
                 "parts": lambda: st.structure_parts(a, b, m.groups, m.keep, m.static)}
        if found is not None:
            works["keep"] = lambda: st.keep_structure(frame, a, b, 0.5, found)
        ms = interleaved(works, rounds)
        share = 0.0 if found is None else float((found.parts > 0.5).mean())
        keep = f"{ms['keep']:.0f}" if found is not None else "-"
        print(f"| {clip} | {ms['once']:.0f} | {ms['each']:.0f} | {ms['parts']:.0f} | {keep} | {100 * share:.3f} % |")
    print(f"\nmedian of {rounds} interleaved rounds, one thread.")
    return 0


def upscaled(pairs: dict, rounds: int) -> int:
    """The --upscaled table."""
    from vsvfi import upscaled as up

    print("| pair | sharpness | masks as the filter makes them, ms | full-size masks alone, ms | sharpness test, ms "
          "| overlay pixels | full-size alone |")
    print("|---|---|---|---|---|---|---|")
    for clip, (a, b) in pairs.items():
        f = a.shape[2] // 640
        works = {"now": lambda: up.masks(a, b), "full": lambda: protect.masks_and_motion(a, b),
                 "test": lambda: up.sharpness(a, f)}
        ms = interleaved(works, rounds)
        found = [float((m.overlay > 0).mean()) for m in (up.masks(a, b), protect.masks_and_motion(a, b))]
        print(f"| {clip}, {a.shape[2]}x{a.shape[1]} | {up.sharpness(a, f):.2f} | {ms['now']:.0f} | {ms['full']:.0f} | "
              f"{ms['test']:.1f} | {100 * found[0]:.3f} % | {100 * found[1]:.3f} % |")
    print(f"\nmedian of {rounds} interleaved rounds, one thread.")
    return 0


def translucent(pairs: dict, rounds: int) -> int:
    """The --translucent table."""
    from vsvfi import translucent as tl

    print("| pair (1920x1080) | layer pixels | find, ms per pair | composite, ms per output frame |")
    print("|---|---|---|---|")
    for clip, (a, b) in pairs.items():
        keep = protect.masks_and_motion(a, b)[2]
        finds, composites, layer = [], [], None
        for _ in range(rounds):
            t0 = time.perf_counter()
            layer = tl.find(a, b, keep)
            finds.append(time.perf_counter() - t0)
            frame = (a + b) / 2
            t0 = time.perf_counter()
            tl.composite(frame, layer)
            composites.append(time.perf_counter() - t0)
        share = 0.0 if layer is None else len(layer.ys) / a[0].size
        print(f"| {clip} | {100 * share:.3f} % | {1e3 * statistics.median(finds):.0f} | "
              f"{1e3 * statistics.median(composites):.1f} |")
    print(f"\nmedian of {rounds} rounds, one thread.")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--spread", action="store_true", help="masks on 10 pairs over each sample clip instead")
    ap.add_argument("--motion", action="store_true", help="the cost of vsvfi.overlay_motion's steps instead")
    ap.add_argument("--translucent", action="store_true", help="the cost of vsvfi.translucent instead")
    ap.add_argument("--codec", action="store_true", help="the cost of the seeds through codec noise instead")
    ap.add_argument("--upscaled", action="store_true", help="the cost of vsvfi.upscaled instead")
    ap.add_argument("--see-through", action="store_true", help="the cost of vsvfi.see_through instead")
    ap.add_argument("--structure", action="store_true", help="the cost of the structure check instead")
    args = ap.parse_args()
    if args.spread:
        return spread()
    import vapoursynth as vs

    from vsvfi import assets
    from vsvfi.frames import frame_array

    pairs = {}
    # 110/111: a still shot, whose codec noise makes scattered overlay seeds (docs/protection.md)
    sources = {"bigbuckbunny": ("bigbuckbunny", 60, "709"), "bikes": ("bikes", 40, "170m"),
               "bigbuckbunny still shot": ("bigbuckbunny", 110, "709")}
    if args.codec:  # bikes where the camera zooms: past the zoom gate at 1080p, no seeds
        sources["bikes, zooming"] = ("bikes", 30, "170m")
    for label, (clip, n, matrix) in sources.items():
        src = vs.core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[clip])))
        rgb = vs.core.resize.Bicubic(src, 1920, 1080, format=vs.RGBS, matrix_in_s=matrix)
        pairs[label] = [np.clip(frame_array(rgb.get_frame(k)), 0, 1) for k in (n, n + 1)]
    from vsvfi import families
    case = next(c for c in families.cases("overlay") if c.name.startswith("overlay white 32px subtitle outline over pan"))
    rgb = vs.core.resize.Bicubic(case.clip, 1920, 1080, format=vs.RGBS)
    pairs["subtitle over a pan"] = [np.clip(frame_array(rgb.get_frame(k)), 0, 1) for k in (0, 2)]
    if args.motion:
        return motion(pairs, args.rounds)
    if args.upscaled:
        src = vs.core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bigbuckbunny"])))
        rgb = vs.core.resize.Bicubic(src, format=vs.RGBS, matrix_in_s="709")
        pairs["bigbuckbunny at its size"] = [np.clip(frame_array(rgb.get_frame(k)), 0, 1) for k in (60, 61)]
        return upscaled(pairs, args.rounds)
    if args.codec or args.see_through or args.structure:
        case = next(c for c in families.cases("overlay")
                    if c.name.startswith("overlay white 32px subtitle outline over pan") and "x264" in c.name)
        rgb = vs.core.resize.Bicubic(case.clip, 1920, 1080, format=vs.RGBS)
        pairs["subtitle over a pan, x264"] = [np.clip(frame_array(rgb.get_frame(k)), 0, 1) for k in (0, 2)]
    if args.see_through or args.structure:
        sys.path.insert(0, str(ROOT / "scripts"))
        from hard_scenes import _clip
        from heldout_overlays import case as held_out
        a, _, b, _ = held_out("white 30px watermark alpha 0.45 over pan 26.5px at 213 deg bikes#110")
        rgb = vs.core.resize.Bicubic(_clip([a, b]), 1920, 1080, format=vs.RGBS)
        pairs["watermark over a sub-pixel pan"] = [np.clip(frame_array(rgb.get_frame(k)), 0, 1) for k in (0, 1)]
        if not args.structure:
            return see_through(pairs, args.rounds)
        from real_overlays import case as burnt_in  # a watermark over a talking head: no shift carries it
        a, _, b, _ = burnt_in("carphone_pristine", 4, 1, 29, "white 30px watermark alpha 0.45")
        rgb = vs.core.resize.Bicubic(_clip([a, b]), 1920, 1080, format=vs.RGBS)
        pairs["watermark over carphone 29"] = [np.clip(frame_array(rgb.get_frame(k)), 0, 1) for k in (0, 1)]
        return structure(pairs, args.rounds)
    if args.codec:
        case = next(c for c in families.cases("overlay")
                    if c.name.startswith("overlay white 14px labels at the edges over zoom") and "x264" in c.name)
        rgb = vs.core.resize.Bicubic(case.clip, 1920, 1080, format=vs.RGBS)
        pairs["labels over a zoom, x264"] = [np.clip(frame_array(rgb.get_frame(k)), 0, 1) for k in (0, 2)]
        return codec(pairs, args.rounds)
    if args.translucent:
        case = next(c for c in families.cases("overlay") if c.name.startswith("overlay patch logos alpha 0.5 and 0.8 over pan 40px"))
        rgb = vs.core.resize.Bicubic(case.clip, 1920, 1080, format=vs.RGBS)
        pairs["patch logos over a pan"] = [np.clip(frame_array(rgb.get_frame(k)), 0, 1) for k in (0, 2)]
        return translucent(pairs, args.rounds)
    ways = {"one pass over the frame": (one_pass, neighbourhood._fill),
            f"strips of {protect.STRIP_ROWS} rows, {neighbourhood.TILE}-px fill tiles": (protect.static_masks,
                                                                                 neighbourhood.fill)}
    print(f"| pair (1920x1080) | computation | ms per pair, 1 thread | ms per pair, {args.threads} threads at once "
          "| overlay pixels | same masks |")
    print("|---|---|---|---|---|---|")
    for clip, (a, b) in pairs.items():
        ref = pair_work(*ways["one pass over the frame"], a, b)
        for label, (masks, fill) in ways.items():
            one, many = [], []
            for _ in range(args.rounds):  # interleaved: 1 thread, then N threads
                t0 = time.perf_counter()
                got = pair_work(masks, fill, a, b)
                one.append(time.perf_counter() - t0)
                with ThreadPoolExecutor(args.threads) as pool:
                    t0 = time.perf_counter()
                    list(pool.map(lambda _: pair_work(masks, fill, a, b), range(args.threads * 2)))
                    many.append((time.perf_counter() - t0) / (args.threads * 2))
            same = max(float(np.abs(x - y).max()) for x, y in zip(got, ref))
            print(f"| {clip} | {label} | {1e3 * statistics.median(one):.0f} | {1e3 * statistics.median(many):.0f} "
                  f"| {100 * float((got[1] > 0).mean()):.3f} % | max diff {same:.1e} |")
    print(f"\nmedian of {args.rounds} interleaved rounds; 'N threads at once': wall time of 2N pairs on N "
          "threads, per pair.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

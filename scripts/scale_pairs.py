"""Which flow scale each pair wants, beside what ``scale="auto"`` reads (the pair's motion,
:mod:`vsvfi.motion`) at three percentiles of its block displacements: on the sample clips
and on the object, zoom, shake, pan and large-motion families of :mod:`vsvfi.families`.

For each sample clip (its first ``--frames`` frames) and each k of ``--k``, the source is
every k-th frame and the frames in between are the truth, as in ``vsvfi evaluate``. For
every pair whose 90th-percentile motion exceeds ``--over`` pixels (the others keep scale 1
at any percentile), the network alone (rife46, CPU, no scene-change or overlay decisions)
synthesizes the k - 1 frames between at scales 1, 0.5 and 0.25: mean PSNR dB (RGB 0-255);
and what ``scale="auto"`` makes of large motion now: the three scales run on the pair
padded for each and their frames weighed by each flow's misfit (:mod:`vsvfi.scale_fusion`),
beside other exponents of that weighting.
Pairs across a cut (the scene-change measure above its threshold) are left out: the filter
duplicates there. The totals say what each percentile would have cost or won against
scale 1 over every pair of the clip. The family cases are scored the same way (their true
middle frame).

    .venv/bin/python scripts/scale_pairs.py [--frames 60] [--k 2 4] [--out docs/auto-scale.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import vapoursynth as vs
from scipy import ndimage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from hard_scenes import psnr, to_u8  # noqa: E402
from vsvfi import assets, families, motion, scale_fusion, scenes  # noqa: E402
from vsvfi.colour import default_matrix_name  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402
from vsvfi.runtime import get_engine  # noqa: E402
from vsvfi.runtime.rife import DISAGREEMENT_BLOCK  # noqa: E402

core = vs.core
PERCENTILES = (50, 75, 90)
SCALES = (1.0, 0.5, 0.25)
FAMILIES = ("object", "zoom", "shake", "pan", "large-motion")
#: The scales scale="auto" fuses above COARSE_ABOVE (the filter's own rule).
_COARSE = scale_fusion.auto_scales(float("inf"), True)
#: Weight exponents compared with MISFIT_POWER (inf: the scale with the least misfit alone).
POWERS = (1, 2, 4, 8, float("inf"))


def _motions(a: np.ndarray, b: np.ndarray, factor: float) -> tuple[dict[int, float], bool]:
    """The pair's motion (pixels at the clip's size) at each of :data:`PERCENTILES`, and
    whether the pair is a cut."""
    # the first percentile's comparison runs both ways: the cut is decided as the filter does
    found = {q: (motion.compare_both if q == PERCENTILES[0] else motion.compare)(a, b, q) for q in PERCENTILES}
    return {q: c.motion * factor for q, c in found.items()}, found[PERCENTILES[0]].difference > scenes.SC_THRESHOLD


def _frames(engine, x0: np.ndarray, x1: np.ndarray, k: int) -> dict[float, list[np.ndarray]]:
    """Per scale, the network's frames at t = 1/k .. (k-1)/k; under ``"fused"`` what
    ``scale="auto"`` makes of large motion: the frames of :data:`vsvfi.scale_fusion.FUSED_SCALES`
    each padded for itself, weighed by their misfits."""
    pairs = scale_fusion.prepare(engine, x0, x1, scale_fusion.FUSED_SCALES)
    runs = [scale_fusion.runs(engine, pairs, t / k, scale_fusion.FUSED_SCALES) for t in range(1, k)]
    # each fused scale runs on its own padding: its frames are that scale's frames alone
    out = {s: [r[scale_fusion.FUSED_SCALES.index(s)][0] for r in runs] for s in SCALES}
    out["fused"] = [scale_fusion.fuse(*zip(*r)) for r in runs]
    coarse = [scale_fusion.FUSED_SCALES.index(s) for s in _COARSE]
    out["coarse"] = [scale_fusion.fuse(*zip(*[r[i] for i in coarse])) for r in runs]
    # before 2026-11-29: every fused scale ran on the one pair padded for the smallest
    one = (engine.prepare(x0, x1, min(scale_fusion.FUSED_SCALES)),) * len(scale_fusion.FUSED_SCALES)
    before = [scale_fusion.runs(engine, one, t / k, scale_fusion.FUSED_SCALES) for t in range(1, k)]
    out["fused, one padding"] = [scale_fusion.fuse(*zip(*r)) for r in before]
    out["coarse, one padding"] = [scale_fusion.fuse(*zip(*[r[i] for i in coarse])) for r in before]
    for power in POWERS:  # other weightings of the same runs, for the table that chose MISFIT_POWER
        out[f"power {power}"] = [_weighed(r, power) for r in runs]
    if k == 2:  # tried 2026-11-29, not adopted: weights per region from the blocks' own misfits
        maps = [misfit_blocks(engine, p, 0.5, s) for p, s in zip(pairs, scale_fusion.FUSED_SCALES)]
        for radius, power in BLOCKWISE:
            out[f"blocks {radius} {power}"] = [_blockwise([f for f, _ in runs[0]], maps, radius, power)]
    return out


#: (radius in blocks of the box that smooths each scale's block misfits, weight exponent)
#: of the per-region weighing tried beside the filter's one weight per scale.
BLOCKWISE = ((0, 2), (2, 4), (8, 2), (8, 4))


def misfit_blocks(engine, pair, t: float, scale: float) -> np.ndarray:
    """The ``disagreement`` blocks (float64 (H/8, W/8), RGB 0..1) of one run of the network
    (a rife46 engine) on a prepared pair at timestep ``t`` and flow ``scale``."""
    got = engine._run(pair.img0, pair.img1, np.full((1, 1, 1, 1), t, np.float32), scale)
    n = DISAGREEMENT_BLOCK
    return got["disagreement"][0, 0, :-(-pair.height // n), :-(-pair.width // n)].astype(np.float64)


def _blockwise(frames: list[np.ndarray], maps: list[np.ndarray], radius: int, power: float) -> np.ndarray:
    """The scales' frames weighed per pixel by ``(misfit + MISFIT_FLOOR) ** -power`` of their
    block misfits averaged over (2 radius + 1)² blocks, bilinear between block centres."""
    h, w = frames[0].shape[1:]
    n = DISAGREEMENT_BLOCK
    weights = np.stack([(ndimage.uniform_filter(m, 2 * radius + 1, mode="nearest") + scale_fusion.MISFIT_FLOOR)
                        ** -power for m in maps])
    weights /= weights.sum(axis=0)
    ys = np.clip((np.arange(h) + 0.5) / n - 0.5, 0, weights.shape[1] - 1)
    xs = np.clip((np.arange(w) + 0.5) / n - 0.5, 0, weights.shape[2] - 1)
    grid = np.meshgrid(ys, xs, indexing="ij")
    return sum(f * ndimage.map_coordinates(wk, grid, order=1, mode="nearest").astype(np.float32)
               for f, wk in zip(frames, weights))


def _weighed(runs: list[tuple[np.ndarray, float]], power: float) -> np.ndarray:
    """The runs' frames weighed by ``(misfit + MISFIT_FLOOR) ** -power`` (inf: the least misfit)."""
    if power == float("inf"):
        return min(runs, key=lambda r: r[1])[0]
    return scale_fusion.fuse(*zip(*runs), power=power)


def _scores(frames: dict[float, list[np.ndarray]], truth: list[np.ndarray]) -> dict[float, float]:
    """Mean PSNR of each scale's ``frames`` against ``truth``."""
    return {s: float(np.mean([psnr(to_u8(f), t) for f, t in zip(got, truth)])) for s, got in frames.items()}


def measure(frames: int, ks: list[int], over: float) -> list[dict]:
    engine = get_engine("rife46", "cpu")
    rows = []
    for stem in assets.SAMPLES:
        src = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem])))[:frames]
        rgb = core.resize.Bicubic(src, format=vs.RGB24, matrix_in_s=default_matrix_name(src.width, src.height))
        small = scenes.thumbnails(src)
        factor = src.width / small.width
        for k in ks:
            for j in range(0, src.num_frames - k, k):
                a, b = (np.asarray(small.get_frame(i)[0]) for i in (j, j + k))
                m, cut = _motions(a, b, factor)
                row = {"clip": stem, "k": k, "pair": j, "motion": m, "cut": cut}
                if m[90] > over and not cut:
                    x0, x1 = (frame_array(rgb.get_frame(i)).astype(np.float32) / 255 for i in (j, j + k))
                    row["psnr"] = _scores(_frames(engine, x0, x1, k),
                                          [frame_array(rgb.get_frame(j + s)) for s in range(1, k)])
                rows.append(row)
    for family in FAMILIES:
        for case in families.cases(family):
            small = scenes.thumbnails(case.clip)
            a, b = (np.asarray(small.get_frame(i)[0]) for i in (0, 2))
            m, cut = _motions(a, b, case.clip.width / small.width)
            x0, x1 = (frame_array(case.clip.get_frame(i)).astype(np.float32) / 255 for i in (0, 2))
            middle = _frames(engine, x0, x1, 2)
            rows.append({"clip": family, "k": 2, "pair": case.name, "motion": m, "cut": cut,
                         "psnr": _scores(middle, [frame_array(case.clip.get_frame(1))]),
                         "disagree": _disagreement(engine, x0, x1, middle)})
    return rows


def _disagreement(engine, x0: np.ndarray, x1: np.ndarray, middle: dict[float, list[np.ndarray]]) -> dict[float, float]:
    """Per scale, the mean absolute difference (0..1) between the network's ``middle`` frame
    of (x0, x1) and its middle frame of (x1, x0): a choice of scale from the content itself
    (the scale whose two passes agree best), tried beside the motion."""
    return {s: float(np.abs(middle[s][0] - engine(x1, x0, 0.5, s)).mean()) for s in SCALES}


def _pick(r: dict, q: int) -> float:
    return r["psnr"][scenes.auto_scale(r["motion"][q])]


def _auto(r: dict, before: bool = False) -> float:
    """What ``scale="auto"`` gets now: the fused scales above :data:`vsvfi.scale_fusion.FUSE_ABOVE`
    (motion read at the filter's percentile), scale 1 below; ``before``: with every fused
    scale on the one pair padded for the smallest (the rule before 2026-11-29)."""
    m = r["motion"][motion.MOTION_PERCENTILE]
    tail = ", one padding" if before else ""
    if m > scale_fusion.COARSE_ABOVE:
        return r["psnr"]["coarse" + tail]
    return r["psnr"]["fused" + tail] if m > scale_fusion.FUSE_ABOVE else r["psnr"][1.0]


def _weighing_rows(fams: list[dict]) -> list[str]:
    rows = []
    for family in dict.fromkeys(r["clip"] for r in fams):
        sub = [r for r in fams if r["clip"] == family and not r["cut"]
               and r["motion"][motion.MOTION_PERCENTILE] > scale_fusion.FUSE_ABOVE]
        if not sub:
            continue
        best = np.array([max(r["psnr"][x] for x in SCALES) for r in sub])
        cells = []
        for key in [f"power {x}" for x in POWERS] + [f"blocks {r} {x}" for r, x in BLOCKWISE]:
            got = np.array([r["psnr"][key] for r in sub])
            cells.append(f"{got.mean():.2f} ({int((got >= best - 0.5).sum())})")
        rows.append(f"| {family} | {len(sub)} | {best.mean():.2f} | " + " | ".join(cells) + " |")
    return rows


def markdown(rows: list[dict], cmd: str) -> str:
    samples = [r for r in rows if r["clip"] in assets.SAMPLES]
    fams = [r for r in rows if r["clip"] not in assets.SAMPLES]
    lines = ["# scale=\"auto\": which motion to read, and how to weigh several scales", "",
             f"Produced by `{cmd}` (see its docstring). Motion: pixels at the frame's size, the 50th / 75th / 90th "
             "percentile of the well-matched block displacements; `auto pN`: what `scale=\"auto\"` picks "
             f"({', '.join(f'up to {b:g} px: {s:g}' for b, s in scenes.AUTO_SCALES)}) reading the Nth percentile "
             f"(the filter reads the {motion.MOTION_PERCENTILE}th). PSNR dB of the network alone.", "",
             "## The families", "",
             "Mean PSNR dB per rule, and in how many cases it is within 0.5 dB of the best fixed scale:", "",
             "| family | cases | scale 1 | auto p50 | auto p75 | auto p90 | best agreement | best fixed | auto (fused) "
             "| auto (fused), one padding |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for family in dict.fromkeys(r["clip"] for r in fams):
        sub = [r for r in fams if r["clip"] == family and not r["cut"]]
        best = np.array([max(r["psnr"][x] for x in SCALES) for r in sub])
        cells = [f"{np.mean([r['psnr'][1.0] for r in sub]):.2f} ({sum(r['psnr'][1.0] >= x - 0.5 for r, x in zip(sub, best))})"]
        for q in PERCENTILES:
            got = np.array([_pick(r, q) for r in sub])
            cells.append(f"{got.mean():.2f} ({int((got >= best - 0.5).sum())})")
        agree = np.array([r["psnr"][min(r["disagree"], key=r["disagree"].get)] for r in sub])
        cells.append(f"{agree.mean():.2f} ({int((agree >= best - 0.5).sum())})")
        fused, one = (np.array([_auto(r, before) for r in sub]) for before in (False, True))
        lines.append(f"| {family} | {len(sub)} | " + " | ".join(cells) + f" | {best.mean():.2f} | "
                     f"{fused.mean():.2f} ({int((fused >= best - 0.5).sum())}) | "
                     f"{one.mean():.2f} ({int((one >= best - 0.5).sum())}) |")
    lines += ["", "Cases called a cut (the filter duplicates there) are left out. `best agreement`: the scale at "
              "which the network's middle frame of (a, b) and of (b, a) differ least, a choice from the content "
              "instead of the motion. `auto (fused)`: what `scale=\"auto\"` does now: above "
              f"{scale_fusion.FUSE_ABOVE:g} px the frames of scales "
              f"{', '.join(f'{x:g}' for x in scale_fusion.FUSED_SCALES)} weighed by their flows' misfits "
              f"(`vsvfi.scale_fusion`; above {scale_fusion.COARSE_ABOVE:g} px without scale 1), scale 1 below; "
              "each scale runs on the pair padded for itself. `one padding`: the same with every scale on one pair "
              "padded for the smallest, as before 2026-11-29 (the padding changes the larger scales' flows: on "
              "frames 272 or 720 rows high, scale 1's frame differs from what `scale=1` makes).", "",
              "## Weighing the scales", "",
              f"The family cases that move more than {scale_fusion.FUSE_ABOVE:g} px (what `scale=\"auto\"` fuses): "
              "mean PSNR dB (cases within 0.5 dB of the best fixed scale) with the three scales' frames weighed by "
              "`(misfit + floor) ** -power`; `inf`: the scale with the least misfit alone. The filter uses power "
              f"{scale_fusion.MISFIT_POWER}. `blocks r, p` (tried 2026-11-29, not adopted): weights per region "
              "instead, from each scale's 8x8-block misfits averaged over (2 r + 1)² blocks, power p. Smoothed widely (r 8) "
              "it gains on the mean but holds fewer cases within 0.5 dB of the best fixed scale, which is the "
              "goal; a block's own misfit (r 0) is a worse guess than the frame's mean.", "",
              "| family | cases | best fixed | " + " | ".join(f"power {x:g}" for x in POWERS) + " | "
              + " | ".join(f"blocks {r}, {x:g}" for r, x in BLOCKWISE) + " |",
              "|---|---|---|" + "---|" * (len(POWERS) + len(BLOCKWISE)), *_weighing_rows(fams), "",
              "## The sample clips", "",
              "Pairs whose 90th-percentile motion exceeds the script's `--over`:", "",
              "| clip | k | pair | motion p50 / p75 / p90 | scale 1 | 0.5 | 0.25 | fused | fused, one padding "
              "| auto p50 | auto p75 | auto p90 |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in samples:
        if "psnr" not in r:
            continue
        m, p = r["motion"], r["psnr"]
        picks = " | ".join(f"{scenes.auto_scale(m[q]):g}" for q in PERCENTILES)
        lines.append(f"| {r['clip']} | {r['k']} | {r['pair']} | {m[50]:.0f} / {m[75]:.0f} / {m[90]:.0f} | "
                     f"{p[1.0]:.2f} | {p[0.5]:.2f} | {p[0.25]:.2f} | {p['fused']:.2f} | {p['fused, one padding']:.2f} "
                     f"| {picks} |")
    lines += ["", "Against scale 1, mean dB over every pair of the clip that is not a cut (pairs not listed keep "
              "scale 1 at every percentile):", "",
              "| clip | k | pairs | auto p50 | auto p75 | auto p90 | auto (fused) | auto (fused), one padding |",
              "|---|---|---|---|---|---|---|---|"]
    for clip in dict.fromkeys(r["clip"] for r in samples):
        for k in dict.fromkeys(r["k"] for r in samples):
            sub = [r for r in samples if r["clip"] == clip and r["k"] == k and not r["cut"]]
            if sub:
                gains = [sum(_pick(r, q) - r["psnr"][1.0] for r in sub if "psnr" in r) / len(sub) for q in PERCENTILES]
                gains += [sum(_auto(r, before) - r["psnr"][1.0] for r in sub if "psnr" in r) / len(sub)
                          for before in (False, True)]
                lines.append(f"| {clip} | {k} | {len(sub)} | " + " | ".join(f"{g:+.3f}" for g in gains) + " |")
    return "\n".join(lines) + "\n"


def cost(rounds: int = 5) -> dict[str, float]:
    """Median seconds of the network on one 1920x1080 pair (bigbuckbunny frames 40, 41
    upscaled; CPU provider, all cores): one run at scale 1, and the fused runs of
    ``scale="auto"`` (all scales; without scale 1), each scale on a pair padded for itself,
    timed in turns."""
    import time

    engine = get_engine("rife46", "cpu")
    clip = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bigbuckbunny"])))
    rgb = core.resize.Bicubic(clip, 1920, 1080, format=vs.RGBS, matrix_in_s="709")
    a, b = (frame_array(rgb.get_frame(i)) for i in (40, 41))
    one = engine.prepare(a, b, 1.0)
    fused, coarse = (scale_fusion.prepare(engine, a, b, s) for s in (scale_fusion.FUSED_SCALES, _COARSE))
    runs = {"scale 1": lambda: engine.synthesize(one, 0.5),
            "fused": lambda: scale_fusion.runs(engine, fused, 0.5, scale_fusion.FUSED_SCALES),
            "coarse": lambda: scale_fusion.runs(engine, coarse, 0.5, _COARSE)}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds + 1):  # the first round warms up
        for k, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v[1:])) for k, v in times.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--k", type=int, nargs="+", default=[2, 4])
    p.add_argument("--over", type=float, default=32.0)
    p.add_argument("--out", default="docs/auto-scale.md")
    a = p.parse_args()
    cmd = (f"python scripts/scale_pairs.py --frames {a.frames} --k {' '.join(map(str, a.k))} --over {a.over:g} "
           f"--out {a.out}")
    text = markdown(measure(a.frames, a.k, a.over), cmd)
    c = cost()
    text += (f"\n## Cost\n\nThe network on one 1920x1080 pair (CPU provider, this machine, median of 5): scale 1 "
             f"{c['scale 1']:.2f} s; the fused scales {c['fused']:.2f} s ({c['fused'] / c['scale 1']:.2f}x), "
             f"paid only on pairs that move more than {scale_fusion.FUSE_ABOVE:g} px; above "
             f"{scale_fusion.COARSE_ABOVE:g} px, without scale 1, {c['coarse']:.2f} s "
             f"({c['coarse'] / c['scale 1']:.2f}x).\n")
    Path(a.out).write_text(text)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

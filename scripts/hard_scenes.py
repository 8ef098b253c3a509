"""Families of hard cases with known answers: cuts against fast motion, overlays, periodic
texture, large motion (vsvfi.families), each scored against what it should do.

    .venv/bin/python scripts/hard_scenes.py [--quick] [--before REV] [--out docs/hard-scenes.md]
                                            [--json docs/hard-scenes.json]

For every case (two source frames a, b and the true middle frame) it records:
- the scene-change decision of vsvfi's detector (vsvfi.motion), of the detector before it
  (mean absolute luma difference of 320-pixel thumbnails above 0.12), of a misc.SCDetect-style
  measure at vs-rife's 0.15 (mean absolute luma difference of the whole frame) and of ffmpeg's
  scdet filter (score >= 10, its default);
- the middle frame of Interpolate(ratio=2) with the defaults, with protect_static=False,
  at each fixed flow scale and with scale="auto" (as each family needs), of a blend and of a
  duplicate; PSNR (RGB, 0-255; inside / outside the overlay boxes for overlays) and mean
  FLIP (flip-evaluator, LDR; 0 = identical) against the true middle frame;
- with ``--before REV``: the defaults of vsvfi at git revision REV, run in a subprocess on a
  worktree of REV with the same frames (the old behaviour beside the new).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import vapoursynth as vs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vsvfi  # noqa: E402
from vsvfi import families  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402
from vsvfi.motion import compare_both  # noqa: E402
from vsvfi.scenes import SC_THRESHOLD, thumbnails  # noqa: E402

core = vs.core
OLD_WIDTH, OLD_THRESHOLD = 320, 0.12  # the detector before this one (docs/scene-change.md)
SCDETECT_THRESHOLD = 0.15  # vs-rife's sc_threshold with misc.SCDetect
SCDET_THRESHOLD = 10.0  # ffmpeg scdet's default
SCALES = (0.25, 0.5, 1.0)


# ----------------------------------------------------------------------------- scores

def to_u8(x: np.ndarray) -> np.ndarray:
    """A float frame in [0, 1] as uint8 code values (rounded, clipped)."""
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR (dB, peak 255) of two (3, H, W) uint8 arrays, over ``mask`` (H, W) if given."""
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = d[:, mask].mean() if mask is not None else d.mean()
    return 100.0 if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def flip(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean FLIP error (LDR) of ``a`` against the reference ``b``, (3, H, W) uint8."""
    import flip_evaluator

    ref, test = (np.ascontiguousarray(x.transpose(1, 2, 0), np.float32) / 255 for x in (b, a))
    err = flip_evaluator.evaluate(ref, test, "LDR")[0]
    return float(err[mask].mean() if mask is not None else err.mean())


# ----------------------------------------------------------------------------- detectors

def _luma(frames: np.ndarray, width: int | None) -> np.ndarray:
    """BT.709 luma (0..1) of (3, H, W) uint8 RGB, resized to ``width`` (None: as is) with zimg."""
    clip = _clip([frames])
    h = clip.height if width is None else max(2, round(clip.height * width / clip.width))
    w = clip.width if width is None else width
    g = core.resize.Bilinear(clip, w, h, format=vs.GRAYS, matrix_s="709", range_s="full")
    return np.asarray(g.get_frame(0)[0]).copy()


def _scdet(a: np.ndarray, b: np.ndarray) -> float:
    """ffmpeg scdet's score (0-100) of the pair, from a two-frame raw RGB24 stream."""
    raw = a.transpose(1, 2, 0).tobytes() + b.transpose(1, 2, 0).tobytes()
    h, w = a.shape[1:]
    r = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "info", "-f", "rawvideo", "-pix_fmt", "rgb24",
                        "-s", f"{w}x{h}", "-r", "25", "-i", "-", "-vf", "scdet=threshold=0:sc_pass=0,metadata=print",
                        "-f", "null", "-"], input=raw, capture_output=True, timeout=60)
    scores = [float(line.split("=")[1]) for line in r.stderr.decode().splitlines() if "lavfi.scd.score=" in line]
    return scores[-1] if scores else 0.0


def detectors(a: np.ndarray, b: np.ndarray) -> dict[str, tuple[float, bool]]:
    """{detector: (score, says cut)} for source frames a, b ((3, H, W) uint8 RGB)."""
    small = thumbnails(_clip([a, b]))
    new = compare_both(*(np.asarray(small.get_frame(k)[0]) for k in (0, 1))).difference
    old = float(np.abs(_luma(a, min(OLD_WIDTH, a.shape[2])) - _luma(b, min(OLD_WIDTH, a.shape[2]))).mean())
    full = float(np.abs(_luma(a, None) - _luma(b, None)).mean())
    scd = _scdet(a, b)
    return {"vsvfi": (new, new > SC_THRESHOLD), "before": (old, old > OLD_THRESHOLD),
            "SCDetect 0.15": (full, full > SCDETECT_THRESHOLD), "ffmpeg scdet": (scd, scd >= SCDET_THRESHOLD)}


# ----------------------------------------------------------------------------- rendering

def _clip(frames: list[np.ndarray]) -> vs.VideoNode:
    """RGB24 clip of (3, H, W) uint8 frames."""
    h, w = frames[0].shape[1:]
    blank = core.std.BlankClip(width=w, height=h, format=vs.RGB24, length=len(frames), fpsnum=25)

    def fill(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), frames[n][p])
        return out

    return core.std.ModifyFrame(blank, blank, fill)


def render(a: np.ndarray, b: np.ndarray, **opts) -> tuple[np.ndarray, dict]:
    """Middle frame of Interpolate(ratio=2, provider="cpu", **opts) on the pair, and its props."""
    f = vsvfi.Interpolate(_clip([a, b]), ratio=2, provider="cpu", **opts).get_frame(1)
    return frame_array(f), {k: f.props[k] for k in ("VsvfiSynthesized", "VsvfiSceneChange", "VsvfiStatic")}


def variants(family: str) -> dict[str, dict]:
    """The Interpolate settings scored for a family besides the defaults."""
    if family == "overlay" or family == "periodic":
        return {"protect_static=False": {"protect_static": False}}
    if family == "large-motion":
        return {f"scale={s:g}": {"scale": s} for s in SCALES} | {"scale=auto": {"scale": "auto"}}
    return {}


BEFORE_SCRIPT = """
import sys, numpy as np, vapoursynth as vs
sys.path.insert(0, sys.argv[1])
import vsvfi
from vsvfi.filter import frame_array
core = vs.core
for path in sys.argv[2:]:
    a, b = np.load(path)
    h, w = a.shape[1:]
    blank = core.std.BlankClip(width=w, height=h, format=vs.RGB24, length=2, fpsnum=25)
    def fill(n, f, fr=(a, b)):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), fr[n][p])
        return out
    clip = core.std.ModifyFrame(blank, blank, fill)
    f = vsvfi.Interpolate(clip, ratio=2, provider="cpu").get_frame(1)
    np.save(path + ".out.npy", frame_array(f))
"""


def before(pairs: dict[str, tuple[np.ndarray, np.ndarray]], rev: str) -> dict[str, np.ndarray]:
    """Middle frames of vsvfi's defaults at git revision ``rev`` (a worktree, a subprocess)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                       capture_output=True)
        try:
            paths = {}
            for k, (name, pair) in enumerate(pairs.items()):
                paths[name] = Path(tmp) / f"{k}.npy"
                np.save(paths[name], np.stack(pair))
            # that revision's own export of the default model: its graph outputs may differ from today's
            env = dict(os.environ, VSVFI_MODEL_DIR=str(Path(tmp) / "models"))
            export = f"import sys; sys.path.insert(0, {str(tree)!r}); from vsvfi.export import export; export('rife46')"
            subprocess.run([sys.executable, "-c", export], check=True, env=env, cwd=tmp, capture_output=True)
            subprocess.run([sys.executable, "-c", BEFORE_SCRIPT, str(tree), *map(str, paths.values())], check=True,
                           env=env, cwd=tmp)
            return {name: np.load(str(p) + ".out.npy") for name, p in paths.items()}
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)


# ----------------------------------------------------------------------------- measuring

def measure_case(case, old_frame: np.ndarray | None) -> dict:
    """Every score of one case (a row of the JSON output)."""
    a, mid, b = (frame_array(case.clip.get_frame(k)) for k in range(3))
    row = {"family": case.family, "name": case.name, "cut": case.cut, "motion": case.motion,
           "detectors": {k: {"score": s, "cut": c} for k, (s, c) in detectors(a, b).items()}}
    if not case.truth:
        return row
    t0 = time.perf_counter()
    outputs = {"default": render(a, b)}
    row["seconds"] = time.perf_counter() - t0
    outputs |= {label: render(a, b, **opts) for label, opts in variants(case.family).items()}
    frames = {label: out[0] for label, out in outputs.items()}
    frames |= {"blend": ((a.astype(np.uint16) + b + 1) // 2).astype(np.uint8), "dup": a}
    if old_frame is not None:
        frames["before"] = old_frame
    row["duplicated"] = bool(outputs["default"][1]["VsvfiSceneChange"])
    regions = {"all": None} if case.mask is None else {"inside": case.mask, "outside": ~case.mask}
    row["psnr"] = {r: {k: psnr(f, mid, m) for k, f in frames.items()} for r, m in regions.items()}
    row["flip"] = {r: {k: flip(f, mid, m) for k, f in frames.items()} for r, m in regions.items()}
    return row


def measure(quick: bool, rev: str | None, only: list[str] | None = None) -> list[dict]:
    cases = [c for c in families.cases(quick=quick) if not only or c.family in only]
    old = {}
    if rev:
        pairs = {c.name: (frame_array(c.clip.get_frame(0)), frame_array(c.clip.get_frame(2)))
                 for c in cases if c.truth}
        old = before(pairs, rev)
    rows = []
    for case in cases:
        row = measure_case(case, old.get(case.name))
        rows.append(row)
        print(summary_line(row), flush=True)
    return rows


def summary_line(row: dict) -> str:
    det = " ".join(f"{k}={'CUT' if v['cut'] else '-'}" for k, v in row["detectors"].items())
    out = f"{row['family']:12s} {row['name']:40s} {det}"
    if "psnr" in row:
        region = "inside" if "inside" in row["psnr"] else "all"
        out += "  " + " ".join(f"{k} {v:.1f}" for k, v in row["psnr"][region].items())
    return out


# ----------------------------------------------------------------------------- report

DETECTION_FAMILIES = ("cut", "fade", "pan", "zoom", "shake", "flash", "object")


def detection_table(rows: list[dict]) -> list[str]:
    """Per family and detector: how many pairs each detector calls a cut."""
    names = list(rows[0]["detectors"])
    lines = ["| family | pairs | should be | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
    for fam in DETECTION_FAMILIES:
        sub = [r for r in rows if r["family"] == fam]
        if not sub:
            continue
        want = "cut" if sub[0]["cut"] else "not a cut"
        cells = [f"{sum(r['detectors'][d]['cut'] for r in sub)} cut" for d in names]
        lines.append(f"| {fam} | {len(sub)} | {want} | " + " | ".join(cells) + " |")
    cuts = [r for r in rows if r["family"] in DETECTION_FAMILIES]
    pr = []
    for d in names:
        tp = sum(r["cut"] and r["detectors"][d]["cut"] for r in cuts)
        fp = sum(not r["cut"] and r["detectors"][d]["cut"] for r in cuts)
        fn = sum(r["cut"] and not r["detectors"][d]["cut"] for r in cuts)
        pr.append(f"{100 * tp / max(1, tp + fp):.0f} % / {100 * tp / max(1, tp + fn):.0f} %")
    lines.append("| **precision / recall** | | | " + " | ".join(pr) + " |")
    return lines


def quality_table(rows: list[dict], family: str, key: str) -> list[str]:
    """Mean PSNR (dB) and FLIP of each output over a family's cases, worst case beside."""
    sub = [r for r in rows if r["family"] == family and "psnr" in r]
    if not sub:
        return []
    regions = list(sub[0]["psnr"])
    outs = list(sub[0]["psnr"][regions[0]])
    head = " | ".join(f"{o} {region}" if len(regions) > 1 else o for region in regions for o in outs)
    lines = [f"| {key} | " + head + " |", "|---|" + "---|" * (len(regions) * len(outs))]
    for r in sub:
        cells = [f"{r['psnr'][g][o]:.1f} / {r['flip'][g][o]:.3f}" for g in regions for o in outs]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    means = [f"**{np.mean([r['psnr'][g][o] for r in sub]):.2f}** / {np.mean([r['flip'][g][o] for r in sub]):.3f}"
             for g in regions for o in outs]
    lines.append("| **mean** | " + " | ".join(means) + " |")
    return lines


def within_goals(family: str, name: str, motion: float, width: int) -> bool:
    """Whether a non-cut case lies within issue 12's goals: pans up to a quarter of the frame
    ``width`` per frame, zooms up to 20 % (tests/test_decisions.py uses the same rule)."""
    if family == "zoom":
        return not any(f" {p}%" in name for p in range(21, 26))
    return family not in ("pan", "large-motion") or motion <= width / 4


def _row_within_goals(r: dict) -> bool:
    width = int(r["name"].rsplit(" w", 1)[1].split()[0]) if " w" in r["name"] else 640
    return within_goals(r["family"], r["name"], r["motion"], width)


def goals_table(rows: list[dict], rev: str | None) -> list[str]:
    """One line per goal of issue 12, measured on these rows."""
    lines = ["| goal | measured |", "|---|---|"]
    cuts = [r for r in rows if r["family"] == "cut"]
    missed = [r["name"] for r in cuts if not r["detectors"]["vsvfi"]["cut"]]
    if cuts:
        lines.append(f"| every cut found | {len(cuts) - len(missed)} of {len(cuts)}; missed: "
                     f"{', '.join(missed) or 'none'} |")
    non = [r for r in rows if r["family"] in DETECTION_FAMILIES[1:] and _row_within_goals(r)]
    dup = [r["name"] for r in non if r["detectors"]["vsvfi"]["cut"]]
    if non:
        lines.append(f"| no duplicate on pans up to 1/4 of the width, zooms up to 20 %, shake, flashes, fades, "
                     f"objects | {len(dup)} of {len(non)} called a cut{': ' + ', '.join(dup) if dup else ''} |")
    for coded in (False, True):
        ov = [r for r in rows if r["family"] == "overlay" and "psnr" in r and ("x264" in r["name"]) == coded]
        lines += _overlay_goals(ov, " (frames through x264, CRF 18/23)" if coded else "") if ov else []
    per = [r for r in rows if r["family"] == "periodic" and "psnr" in r]
    if per:
        g = np.array([r["psnr"]["all"]["default"] - r["psnr"]["all"]["protect_static=False"] for r in per])
        fl = [np.mean([r["flip"]["all"][k] for r in per]) for k in ("default", "protect_static=False")]
        lines.append(f"| periodic texture: protection never more than 0.3 dB below off | {int((g >= -0.3).sum())} "
                     f"of {len(per)}; mean {g.mean():+.2f} dB, worst {g.min():+.2f}; FLIP {fl[0]:.3f} (off {fl[1]:.3f}) |")
    lm = [r for r in rows if r["family"] == "large-motion" and "psnr" in r and not r["duplicated"]]
    if lm:
        p = [r["psnr"]["all"] for r in lm]
        gap = np.array([x["scale=auto"] - max(x[f"scale={s:g}"] for s in SCALES) for x in p])
        one = np.array([x["scale=auto"] - x["scale=1"] for x in p])
        fl = [np.mean([r["flip"]["all"][k] for r in lm]) for k in ("scale=auto", "scale=1")]
        lines.append(f"| scale=\"auto\" within 0.5 dB of the best fixed scale | {int((gap >= -0.5).sum())} of {len(lm)}; "
                     f"mean {gap.mean():+.2f} dB, worst {gap.min():+.2f}; {one.mean():+.2f} dB vs scale 1; "
                     f"FLIP {fl[0]:.3f} (scale 1 {fl[1]:.3f}) |")
    if rev:
        fams = [f for f in families.FAMILIES if any(r["family"] == f and "psnr" in r for r in rows)]
        cells = []
        for f in fams:
            sub = [r for r in rows if r["family"] == f and "psnr" in r]
            region = "inside" if "inside" in sub[0]["psnr"] else "all"
            mean = {k: (np.mean([r["psnr"][region][k] for r in sub]), np.mean([r["flip"][region][k] for r in sub]))
                    for k in ("before", "default")}
            cells.append(f"{f} {mean['before'][0]:.2f} / {mean['before'][1]:.3f} -> "
                         f"{mean['default'][0]:.2f} / {mean['default'][1]:.3f}")
        lines.append(f"| the defaults at `{rev}` -> now (mean PSNR dB / FLIP; overlays inside the boxes) | "
                     f"{'; '.join(cells)} |")
    return lines


def _overlay_goals(ov: list[dict], label: str) -> list[str]:
    """The goal lines of the overlay rows ``ov`` (``label`` after "overlays")."""
    lines = []
    ins, exact, met = _overlay_met(ov)
    io = np.array([r["psnr"]["inside"]["default"] - r["psnr"]["inside"]["protect_static=False"] for r in ov])
    out = np.array([r["psnr"]["outside"]["default"] - r["psnr"]["outside"]["protect_static=False"] for r in ov])
    fl = {k: np.mean([r["flip"]["inside"][k] for r in ov]) for k in ("default", "blend", "protect_static=False")}
    lines.append(f"| overlays{label}: inside the boxes at least blend + 2 dB | {int(met.sum())} of {len(ov)} "
                 f"({int((met & exact).sum())} exact copies where the blend is exact too, "
                 f"{int((met & ~exact).sum())} of the {int((~exact).sum())} others); "
                 f"mean {ins.mean():+.2f} dB vs blend (worst {ins.min():+.2f}), {io.mean():+.2f} vs protection off; "
                 f"FLIP {fl['default']:.3f} (blend {fl['blend']:.3f}, off {fl['protect_static=False']:.3f}) |")
    lines.append(f"| overlays{label}: outside the boxes within 0.3 dB of protection off | {int((out >= -0.3).sum())} of "
                 f"{len(ov)}; mean {out.mean():+.2f} dB, worst {out.min():+.2f} |")
    return lines


def _overlay_met(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per overlay row: default - blend inside the boxes (dB), whether the blend is exact
    there, and whether the case meets issue 12's goal: blend + 2 dB, or exact where the
    blend is exact too (a blend that is exact cannot be beaten)."""
    ins = np.array([r["psnr"]["inside"]["default"] - r["psnr"]["inside"]["blend"] for r in rows])
    exact = np.array([r["psnr"]["inside"]["blend"] >= 100 for r in rows])
    return ins, exact, (ins >= 2) | (exact & (ins >= 0))


def overlay_sets_table(rows: list[dict], rev: str | None) -> list[str]:
    """The overlay family per overlay set (the case name before " over "): inside the boxes
    against the blend (and the defaults at ``rev``), outside against protection off."""
    ov = [r for r in rows if r["family"] == "overlay" and "psnr" in r]
    if not ov:
        return []
    lines = ["Per overlay set (dB inside the boxes; `met`: at blend + 2 dB or more, or exact where the blend is "
             "exact too):", "",
             "| overlay set | cases | met | default - blend, mean (worst) |"
             + (f" default - `{rev}`, mean |" if rev else "") + " outside: default - off, worst |",
             "|---|---|---|---|" + ("---|" if rev else "") + "---|"]
    sets: dict[str, list[dict]] = {}
    for r in ov:
        coded = " (x264)" if "x264" in r["name"] else ""
        sets.setdefault(r["name"].removeprefix("overlay ").split(" over ")[0] + coded, []).append(r)
    for name, sub in sets.items():
        ins, _, met = _overlay_met(sub)
        out = min(r["psnr"]["outside"]["default"] - r["psnr"]["outside"]["protect_static=False"] for r in sub)
        cells = [name, str(len(sub)), str(int(met.sum())), f"{ins.mean():+.2f} ({ins.min():+.2f})"]
        if rev:
            cells.append(f"{np.mean([r['psnr']['inside']['default'] - r['psnr']['inside']['before'] for r in sub]):+.2f}")
        lines.append("| " + " | ".join(cells + [f"{out:+.2f}"]) + " |")
    return lines + [""]


def markdown(rows: list[dict], cmd: str, rev: str | None) -> str:
    lines = ["# Hard scenes: families of generated cases", "",
             f"Produced by `{cmd}` on {date.today()} ({platform.machine()}, {os.cpu_count()} CPU cores, no GPU; "
             "ONNX Runtime CPU EP). Cases are built from real frames of the sample clips by `vsvfi.families` "
             "(`python -m vsvfi.families` lists them). Quality cells are PSNR dB (RGB 0-255) / mean FLIP "
             "(0 = identical) against the true middle frame; `default` is `Interpolate(ratio=2)` with its "
             "defaults" + (f", `before` the defaults at git `{rev}`" if rev else "") + ".", "",
             "## Goals (issue 12)", ""] + goals_table(rows, rev) + ["",
             "## Scene change: which pairs each detector calls a cut", ""]
    lines += detection_table(rows) + [""]
    for fam in families.FAMILIES:
        table = quality_table(rows, fam, "case")
        if table:
            lines += [f"## {fam}", ""] + (overlay_sets_table(rows, rev) if fam == "overlay" else []) + table + [""]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the quick subset of every family (what the tests use)")
    p.add_argument("--before", metavar="REV", help="also score the defaults of git revision REV")
    p.add_argument("--family", action="append", choices=families.FAMILIES, help="only these families (repeatable)")
    p.add_argument("--from-json", metavar="PATH", help="write the report from the rows of an earlier --json")
    p.add_argument("--out", default="docs/hard-scenes.md")
    p.add_argument("--json", default="docs/hard-scenes.json")
    a = p.parse_args()
    core.num_threads = 2
    if a.from_json:  # render the report again from an earlier run's rows
        rows = json.loads(Path(a.from_json).read_text())
    else:
        rows = measure(a.quick, a.before, a.family)
    cmd = "python scripts/hard_scenes.py" + (" --quick" if a.quick else "") + (f" --before {a.before}" if a.before else "")
    cmd += "".join(f" --family {f}" for f in a.family or ())
    cmd += "".join(f" --{k} {v}" for k, v in (("out", a.out), ("json", a.json)) if v != p.get_default(k))
    Path(a.out).write_text(markdown(rows, cmd, a.before) + "\n")
    if not a.from_json:
        Path(a.json).write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {a.out}" + ("" if a.from_json else f" and {a.json}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks, each comparing alternatives side by side in one process (interleaved runs):

1. ONNX Runtime (CPU EP, and other CPU backends when installed) vs torch eager, same
   weights and frames, for rife46 and rife39 at 640x272 and 1280x720;
2. the filter's throughput with 1 vs 2 VapourSynth threads (and ORT thread / stream
   settings), output checked identical;
3. the whole filter through vspipe vs the bare ORT call (plumbing overhead);
4. gmfss at 4x vs 2x: cost per source pair (the flow graph runs once per pair);
5. GPU providers, when a CUDA device is present (scripts/gpu_check.py).

    .venv/bin/python scripts/benchmark.py [--reps 5] [--out docs/benchmarks.md]
    .venv/bin/python scripts/benchmark.py --gpu-section   # after a new GPU run is recorded

``--gpu-section`` measures nothing: it rewrites the GPU section of ``--out`` from the
recorded runs in docs/gpu-runs/ and leaves the CPU tables as they were measured.

Ratios are what to read: absolute times on shared machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import vapoursynth as vs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vsvfi import assets  # noqa: E402
from vsvfi.colour import default_matrix_name  # noqa: E402
from vsvfi.runtime import RifeEngine, cuda_device_count, get_engine, resolve_providers  # noqa: E402
from vsvfi.models import MODELS  # noqa: E402
from vsvfi.export import build  # noqa: E402
from vsvfi.frames import frame_array  # noqa: E402

core = vs.core


def pair(stem: str, n: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    clip = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem])))
    rgb = core.resize.Bicubic(clip, format=vs.RGBS, matrix_in_s=default_matrix_name(clip.width, clip.height))
    frames = [frame_array(rgb.get_frame(k)) for k in (n, n + 1)]
    return frames[0], frames[1], clip.width, clip.height


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{cpu}, {os.cpu_count()} logical cores, {mem:.0f} GiB RAM; Python {platform.python_version()}, "
            f"onnxruntime {ort.__version__}, torch {torch.__version__}, VapourSynth R{core.core_version.release_major}")


def _interleaved(fns: dict, reps: int) -> dict[str, float]:
    """Median seconds per call of each function, run in turn ``reps`` times after a warm-up,
    so drift in machine load hits all alike."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_ort_vs_torch(model: str, stem: str, reps: int) -> dict:
    a, b, w, h = pair(stem, 40)
    engines = {"ORT CPU EP": RifeEngine(model, provider="cpu")}
    for extra in cpu_backends():
        engines[f"ORT {extra}"] = RifeEngine(model, provider=extra)
    net = build(model)
    torch.set_num_threads(os.cpu_count() or 1)
    m = MODELS[model].pad_for(1.0)
    ph, pw = -h % m, -w % m
    ta = torch.nn.functional.pad(torch.from_numpy(a)[None], (0, pw, 0, ph), mode="replicate")
    tb = torch.nn.functional.pad(torch.from_numpy(b)[None], (0, pw, 0, ph), mode="replicate")
    tt = torch.full((1, 1, 1, 1), 0.5)
    ts = torch.ones(1)

    def run_torch():
        with torch.inference_mode():
            out = net(ta, tb, tt, ts)
            return (out[0] if isinstance(out, tuple) else out)[0, :, :h, :w].numpy()

    fns = {"torch eager": run_torch}
    fns.update({k: (lambda e=e: e(a, b, 0.5)) for k, e in engines.items()})
    med = _interleaved(fns, reps)
    ref = run_torch()
    diffs = {k: float(np.abs(ref - fn()).max()) for k, fn in fns.items() if k != "torch eager"}
    return {"model": model, "stem": stem, "size": f"{w}x{h}", "padded": f"{w + pw}x{h + ph}", "times": med,
            "diffs": diffs}


def cpu_backends() -> list[str]:
    """Optional CPU providers installed here besides the CPU EP (e.g. OpenVINO)."""
    from vsvfi.runtime import PROVIDERS
    found = []
    for name in PROVIDERS:
        if name in ("cpu", "cuda", "tensorrt", "auto"):
            continue
        try:
            resolve_providers(name)
        except Exception:
            continue
        found.append(name)
    return found


def _render_all(clip: vs.VideoNode) -> list:
    futs = [clip.get_frame_async(n) for n in range(clip.num_frames)]
    return [np.asarray(f.result()[0]).copy() for f in futs]


def bench_threads(stem: str, pairs: int, reps: int, model: str = "rife46") -> dict:
    """Filter throughput (synthesized frames per second, in-process, all frames requested
    at once) for several (VapourSynth threads, ORT threads per session, sessions)."""
    import vsvfi
    clip = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem])))[40:40 + pairs + 1]
    configs = [(1, 0, 1), (2, 0, 1), (2, 1, 1), (2, 1, 2)]
    old = core.num_threads
    outputs = {}

    def runner(cfg):
        vs_threads, ort_threads, streams = cfg

        def run():
            core.num_threads = vs_threads
            out = vsvfi.Interpolate(clip, ratio=2, model=model, scene_change=False, provider="cpu",
                                    ort_threads=ort_threads, num_streams=streams)[:-1]
            outputs[cfg] = _render_all(out)
        return run

    try:
        med = _interleaved({cfg: runner(cfg) for cfg in configs}, reps)
    finally:
        core.num_threads = old
    first = outputs[configs[0]]
    identical = all(all(np.array_equal(x, y) for x, y in zip(first, outputs[c])) for c in configs)
    return {"stem": stem, "pairs": pairs, "model": model, "times": med, "identical": identical,
            "size": f"{clip.width}x{clip.height}"}


def bench_gmfss(stem: str, pairs: int, reps: int) -> dict | None:
    """gmfss cost per source pair at 4x vs 2x through the filter (the flow graph runs once
    per pair, the fusion graph once per output frame)."""
    import vsvfi
    from vsvfi.models import ModelFileError
    try:
        get_engine("gmfss", "cpu")
    except (KeyError, ModelFileError) as e:
        return {"missing": str(e)}
    clip = core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem])))[40:40 + pairs + 1]

    def run(k):
        return lambda: _render_all(vsvfi.Interpolate(clip, ratio=k, model="gmfss", scene_change=False,
                                                     provider="cpu")[:-1])

    med = _interleaved({2: run(2), 4: run(4)}, reps)
    return {"stem": stem, "pairs": pairs, "size": f"{clip.width}x{clip.height}", "times": med}


def bench_vspipe(stem: str, frames: int, ort_time: float) -> dict:
    """Render ``frames`` source frames at 2x through vspipe; compare with the bare ORT time."""
    src = assets.fetch(assets.SAMPLES[stem])
    vspipe = Path(sys.executable).with_name("vspipe")
    with tempfile.NamedTemporaryFile("w", suffix=".vpy", delete=False) as fh:
        fh.write("import vapoursynth as vs, vsvfi\n"
                 f"c = vs.core.bs.VideoSource({str(src)!r})[:{frames + 1}]\n"
                 "vsvfi.Interpolate(c, ratio=2, scene_change=False)[:-1].set_output()\n")
        script = fh.name
    try:
        subprocess.run([str(vspipe), "--info", script], check=True, capture_output=True)  # index + warm caches
        t0 = time.perf_counter()
        subprocess.run([str(vspipe), "-c", "y4m", script, "-"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
        total = time.perf_counter() - t0
    finally:
        os.unlink(script)
    synth = frames  # frames + 1 source frames, 2x, last repeat trimmed: one synthesized frame per pair
    return {"stem": stem, "out_frames": 2 * frames, "synth": synth, "total": total,
            "per_synth": total / synth, "ort": ort_time}


def recorded_gpu_run() -> list[str]:
    """Markdown lines summarising the recorded runs of scripts/gpu_check.py
    (docs/gpu-runs/<date>-<device>/*.json): this script does not measure GPUs. Each cell
    holds the value of the newest of the last two runs that measured it, naming the run when
    it is the older one (the runs before used other row names); rows in the newest run's order."""
    runs = sorted((ROOT / "docs" / "gpu-runs").glob("*/rife46.json"))[-2:]
    if not runs:
        return ["No run of `scripts/gpu_check.py` is recorded in docs/gpu-runs/."]
    loaded = []
    for run in runs:
        data = json.loads(run.read_text())
        for other in sorted(run.parent.glob("*.json")):  # sections a command of the same run had alone
            for name, section in json.loads(other.read_text())["sections"].items():
                data["sections"].setdefault(name, section)
        loaded.append((run, data))
    rows: dict[str, dict[str, str]] = {}
    filt, newest = [], runs[-1].parent.name
    for _, data in loaded[::-1]:  # rows in the newest run's order, then the older run's others
        for r in data["sections"].get("engine/rife46", []):
            rows.setdefault(r["variant"], {})
    for run, data in loaded:
        notes = data.get("notes", {})  # rows found invalid after the run, with why
        label = "" if run.parent.name == newest else f" ({run.parent.name})"
        for r in data["sections"].get("engine/rife46", []) + [
                {**r, "variant": "torch " + r["variant"]} for r in data["sections"].get("torch", [])]:
            value = notes.get(r["variant"], r["frames/s"])
            rows.setdefault(r["variant"], {})[r["size"]] = value + label
        measured = [r for r in data["sections"].get("filter", []) if r.get("synthesized frames/s") not in (None, "-")
                    and r.get("output frames") != "failed"]
        if measured:
            filt = [(run.parent.name, r) for r in measured]
        facts = data["facts"]
    out = [f"Not measured by this script: the recorded runs of `scripts/gpu_check.py` in gpu-runs/ (newest "
           f"{newest}/, {facts['gpu']}, driver {facts['driver']}, onnxruntime {facts['onnxruntime']}), rife46, "
           "synthesized frames per second (median of 30 calls). Each cell is from the newer of the last two runs "
           "that measured it, the older one named in brackets; the code as of each run, discussion in "
           "docs/gpu.md.", "",
           "| variant | 1280x720 | 1920x1080 |", "|---|---|---|"]
    out += [f"| {v} | {sizes.get('1280x720', '-')} | {sizes.get('1920x1080', '-')} |" for v, sizes in rows.items()]
    if filt:
        out += ["", f"Whole filter at 1920x1080, 2x (synthesized frames/s, {filt[0][0]}): " + "; ".join(
            f"{next(iter(r.values()))} {r['synthesized frames/s']}" for _, r in filt)]
    return out


def rewrite_gpu_section(path: Path) -> int:
    """Replace everything after the GPU heading of ``path`` by :func:`recorded_gpu_run`."""
    heading = "## GPU (CUDA EP fp32/fp16)"
    text = path.read_text()
    if heading not in text:
        print(f"{path} has no '{heading}' section: run the whole benchmark", file=sys.stderr)
        return 1
    kept = text[:text.index(heading) + len(heading)].splitlines()
    gpus = [line for line in text.split(heading, 1)[1].splitlines() if "CUDA device(s) found" in line]
    path.write_text("\n".join(kept + [""] + gpus + recorded_gpu_run()) + "\n")
    print(f"rewrote the GPU section of {path}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--vspipe-frames", type=int, default=16, help="source pairs rendered through vspipe per size")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--gpu-section", action="store_true", help="only rewrite the GPU section from docs/gpu-runs/")
    args = ap.parse_args()
    if args.gpu_section:
        return rewrite_gpu_section(Path(args.out))

    rows = [bench_ort_vs_torch(m, s, args.reps) for m in ("rife46", "rife39") for s in ("bikes", "bigbuckbunny")]
    threads = [bench_threads(s, 6, max(2, args.reps // 2), m) for m in ("rife46", "rife39") for s in ("bikes", "bigbuckbunny")]
    pipes = [bench_vspipe(r["stem"], args.vspipe_frames, r["times"]["ORT CPU EP"]) for r in rows if r["model"] == "rife46"]
    gm = bench_gmfss("bikes", 4, max(2, args.reps // 2))
    gpus = cuda_device_count()
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `.venv/bin/python scripts/benchmark.py` on {time.strftime('%Y-%m-%d')}.",
        "",
        f"Machine: {machine()}.",
        "",
        "## ONNX Runtime vs torch eager (CPU)",
        "",
        f"Same weights, same real frame pair (source frames 40/41, t = 0.5), median of {args.reps} runs, "
        "interleaved in one process. ORT runs the shipped graphs with the shipped session options "
        "(docs/cpu-profile.md); torch runs the same network modules eagerly with torch's own "
        "`grid_sample` warp and as many threads as cores. ORT times include padding and cropping. "
        "'speed vs torch' > 1 means faster than torch.",
        "",
    ]
    backends = [k for k in rows[0]["times"] if k != "torch eager"]
    lines.append("| model | clip | size (padded) | torch eager s/frame | "
                 + " | ".join(f"{k} s/frame | {k} speed vs torch" for k in backends) + " | max abs diff |")
    lines.append("|---" * (4 + 2 * len(backends) + 1) + "|")
    for r in rows:
        t = r["times"]
        cells = " | ".join(f"{t[k]:.3f} | **{t['torch eager'] / t[k]:.2f}x**" for k in backends)
        lines.append(f"| {r['model']} | {r['stem']} | {r['size']} ({r['padded']}) | {t['torch eager']:.3f} | {cells} | "
                     f"{max(r['diffs'].values()):.1e} |")
    torch_time = {(r["model"], r["stem"]): r["times"]["torch eager"] for r in rows}
    identical = all(th["identical"] for th in threads)
    lines += [
        "",
        "## Parallel serving: the filter's throughput vs torch eager",
        "",
        "The filter on 6 source pairs (source frames 40-46) at 2x, scene-change detection off, all output frames "
        "requested at once in-process; median of interleaved runs, seconds per synthesized frame. Each output "
        "frame has its own ModifyFrame node, so with 2 VapourSynth threads two frames run the network at the "
        "same time on a shared session (ORT releases the GIL inside `run`). ORT threads 'cores' = one per core. "
        "'vs torch' divides torch eager's time for one frame (first table, same model and size, as many torch "
        "threads as cores) by the filter's time per synthesized frame, decoding and colour conversion "
        f"included. Output bit-identical across all settings: **{'yes' if identical else 'NO'}**.",
        "",
        "| model | clip | VS threads | ORT threads/session | sessions | s per synthesized frame | vs 1 VS thread | vs torch eager |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for th in threads:
        t = th["times"]
        base = t[(1, 0, 1)]
        for cfg, v in t.items():
            per = v / th["pairs"]
            lines.append(f"| {th['model']} | {th['stem']} | {cfg[0]} | {cfg[1] or 'cores'} | {cfg[2]} | {per:.3f} | "
                         f"{base / v:.2f}x | {torch_time[(th['model'], th['stem'])] / per:.2f}x |")
    lines += [
        "",
        "## Whole filter through vspipe vs the bare ORT call",
        "",
        f"`vspipe -c y4m` of a script that decodes the clip with bestsource, interpolates {args.vspipe_frames} "
        "source pairs at 2x with rife46 (scene-change detection off so every pair is synthesized) and writes "
        "y4m to /dev/null; VapourSynth uses its default thread count. The ratio compares the wall time per "
        "synthesized frame with one bare ORT call at the same size (decode, YUV<->RGB conversion, "
        "padding, y4m output, pass-through frames, and the gain from running frames on several threads "
        "at once are all inside it).",
        "",
        "| clip | output frames | synthesized | vspipe wall s | s per synthesized frame | bare ORT s/frame | vspipe / bare ORT |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in pipes:
        lines.append(f"| {p['stem']} | {p['out_frames']} | {p['synth']} | {p['total']:.2f} | {p['per_synth']:.3f} | "
                     f"{p['ort']:.3f} | {p['per_synth'] / p['ort']:.2f} |")
    lines += ["", "## gmfss: cost per source pair at 4x vs 2x", ""]
    if gm is None or "missing" in gm:
        lines.append(f"Not measured: {gm and gm['missing']}")
    else:
        t2, t4 = gm["times"][2], gm["times"][4]
        lines += [
            f"{gm['pairs']} source pairs of {gm['stem']} ({gm['size']}) through the filter on the CPU EP, all "
            "output frames requested at once; the flow graph runs once per pair and is cached, the fusion "
            "graph runs once per synthesized frame (1 per pair at 2x, 3 at 4x). Goal: 4x < 2 x (2x).",
            "",
            "| ratio | s per source pair | vs 2x |",
            "|---|---|---|",
            f"| 2x | {t2 / gm['pairs']:.3f} | 1.00 |",
            f"| 4x | {t4 / gm['pairs']:.3f} | **{t4 / t2:.2f}** |",
        ]
    lines += ["", "## GPU (CUDA EP fp32/fp16)", ""]
    if gpus:
        lines.append(f"{gpus} CUDA device(s) found: run `scripts/gpu_check.py` for the GPU tables (docs/gpu.md).")
    lines += recorded_gpu_run()
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where ONNX Runtime's CPU EP loses time against torch eager on the RIFE networks, and
what closes the gap (findings: docs/cpu-profile.md).

    .venv/bin/python scripts/profile_ort.py --stage warp      # warp formulations vs torch
    .venv/bin/python scripts/profile_ort.py --stage options   # session options vs torch
    .venv/bin/python scripts/profile_ort.py --stage profile   # per-op-type kernel time shares
    .venv/bin/python scripts/profile_ort.py --stage startup   # session start, saved optimised model
    .venv/bin/python scripts/profile_ort.py --dump-frames /tmp/frames.npz
    OTHER_VENV/bin/python scripts/profile_ort.py --stage openvino --frames /tmp/frames.npz

Models rife46 and rife39 (``--models``) at 640x272 (bikes, source frames 40/41, padded to
the model's multiple) and 1280x720 (bigbuckbunny, frames 40/41), timestep 0.5, scale 1.

The torch side is vsvfi's own modules (``vsvfi.export.build``) in eager mode under
``torch.inference_mode()`` with as many torch threads as cores; its warp is torch's
``F.grid_sample`` whatever ``--warp`` says (the warp formulation only changes what the ONNX
export writes, see :mod:`vsvfi.export.ops`). Every candidate runs on the same padded
frames, interleaved in one process (one run of each per round, ``--reps`` rounds), so that
load drift from other processes hits all of them alike; read the ratios, not the absolute
times. 'speed vs torch' = torch median / candidate median (> 1: faster than torch).

The ``openvino`` stage needs only numpy and onnxruntime (plus the OpenVINO EP) so it can
run in a throw-away venv; it reads frames dumped by ``--dump-frames`` and the models from
``--model-dir``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Source clip stem -> (source frame index, colour matrix of its RGB conversion).
CLIPS = {"bikes": (40, "170m"), "bigbuckbunny": (40, "709")}
PAD = {"rife46": 32, "rife39": 64}  # padding multiple at scale 1

#: Session option sets tried against the shipped default. Keys of a set: level ("all",
#: "extended", "basic", "disable"), intra, inter (thread counts, 0 = ORT's default), spin
#: ("0"/"1" for session.intra_op.allow_spinning), mode ("sequential"/"parallel"), daz
#: (session.set_denormal_as_zero), mem_pattern, arena (bools), disable (optimizer names).
OPTION_SETS: dict[str, dict] = {
    "default": {},
    "extended": {"level": "extended"},
    "basic": {"level": "basic"},
    "no_nchwc": {"disable": ["NchwcTransformer"]},
    "intra1": {"intra": 1},
    "intra2": {"intra": 2},
    "spin": {"spin": "1"},
    "parallel": {"mode": "parallel", "inter": 2},
    "daz": {"daz": True},
    "no_mem_pattern": {"mem_pattern": False},
    "no_arena": {"arena": False},
}


#: Threads of both sides (``--threads``): torch.set_num_threads and ORT's intra-op pool
#: (unless an option set names its own); 0 = as many as cores / ORT's default.
THREADS = 0


def session_options(spec: dict) -> ort.SessionOptions:
    """SessionOptions for an option set (keys: see :data:`OPTION_SETS`); spinning is off
    unless the set says otherwise, as in vsvfi.runtime."""
    o = ort.SessionOptions()
    o.log_severity_level = 3
    levels = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}
    o.graph_optimization_level = levels[spec.get("level", "all")]
    o.intra_op_num_threads = spec.get("intra", THREADS)
    o.inter_op_num_threads = spec.get("inter", 0)
    o.add_session_config_entry("session.intra_op.allow_spinning", spec.get("spin", "0"))
    o.add_session_config_entry("session.inter_op.allow_spinning", spec.get("spin", "0"))
    if spec.get("mode") == "parallel":
        o.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    if spec.get("daz"):
        o.add_session_config_entry("session.set_denormal_as_zero", "1")
    o.enable_mem_pattern = spec.get("mem_pattern", True)
    o.enable_cpu_mem_arena = spec.get("arena", True)
    if spec.get("disable"):
        o.add_session_config_entry("optimization.disable_specified_optimizers", ",".join(spec["disable"]))
    if spec.get("optimized_path"):
        o.optimized_model_filepath = spec["optimized_path"]
    return o


def load_pair(stem: str) -> tuple[np.ndarray, np.ndarray]:
    """Source frames n, n+1 of a sample clip as float32 (3, H, W) RGB in [0, 1]."""
    import vapoursynth as vs

    from vsvfi import assets
    from vsvfi.frames import frame_array

    n, matrix = CLIPS[stem]
    clip = vs.core.bs.VideoSource(str(assets.fetch(assets.SAMPLES[stem])))
    rgb = vs.core.resize.Bicubic(clip, format=vs.RGBS, matrix_in_s=matrix)
    return frame_array(rgb.get_frame(n)), frame_array(rgb.get_frame(n + 1))


def padded(a: np.ndarray, m: int) -> np.ndarray:
    """(3, H, W) -> (1, 3, H', W') replicate-padded to multiples of m (as the engine does)."""
    _, h, w = a.shape
    return np.pad(a[None], ((0, 0), (0, 0), (0, -h % m), (0, -w % m)), mode="edge")


def feeds(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    return {"img0": a, "img1": b, "timestep": np.full((1, 1, 1, 1), 0.5, np.float32),
            "scale": np.ones(1, np.float32)}


def export_variant(name: str, formulation: str, outdir: Path) -> Path:
    """Export model ``name`` with warp ``formulation`` to ``outdir`` (not the manifest)."""
    import onnx

    from vsvfi.export import build, to_onnx
    from vsvfi.export.ops import export_warp

    path = outdir / f"{name}-{formulation}.onnx"
    warp, _, extra = formulation.partition("+")
    if not path.exists():
        net = build(name)
        if extra == "prelu":
            swap_prelu(net)
        elif extra:
            raise ValueError(f"unknown variant {extra!r}")
        with export_warp(warp):
            onnx.save(to_onnx(net, name), str(path))
    return path


def swap_prelu(net) -> int:
    """Replace every ``nn.PReLU`` of ``net`` by :class:`vsvfi.export.ops.PReLU` (same
    weights; exported as Relu + Min * slope). Returns how many were replaced."""
    import torch.nn as nn

    from vsvfi.export.ops import PReLU

    n = 0
    for module in list(net.modules()):
        for key, child in list(module.named_children()):
            if type(child) is nn.PReLU:
                new = PReLU(child.num_parameters)
                new.weight = child.weight
                setattr(module, key, new)
                n += 1
    return n


#: Clock of :func:`interleaved`: "wall" (time.perf_counter) or "cpu" (time.process_time,
#: CPU seconds of this process: with one thread it measures the work, not the waiting, so
#: it hardly moves with the load other processes put on the machine).
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def interleaved(candidates: dict[str, callable], reps: int) -> dict[str, list[float]]:
    """Run every candidate once per round (after one warm-up each); seconds per run."""
    for fn in candidates.values():
        fn()
    times = {k: [] for k in candidates}
    for _ in range(reps):
        for k, fn in candidates.items():
            t0 = clock()
            fn()
            times[k].append(clock() - t0)
    return times


def summary(times: dict[str, list[float]], ref: str) -> list[dict]:
    """Per candidate: median and fastest run, spread ((max - min) / median), and speed
    relative to ``ref`` from the medians and from the fastest runs. Under load from other
    processes torch's OpenMP threads suffer far more than ORT's pool (medians of torch vary
    up to 10x on a busy 2-core machine), so the fastest-run ratio is the quiet-machine
    estimate and the median ratio the busy-machine one."""
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    return [{"candidate": k, "median_s": med[k], "min_s": best[k], "spread": (max(v) - min(v)) / med[k],
             "speed_vs_" + ref: med[ref] / med[k], "speed_vs_" + ref + " (min)": best[ref] / best[k]}
            for k, v in times.items()]


def torch_runner(name: str, a: np.ndarray, b: np.ndarray):
    import torch

    from vsvfi.export import build

    torch.set_num_threads(THREADS or os.cpu_count() or 1)
    net = build(name)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tt = torch.full((1, 1, 1, 1), 0.5)

    def run():
        with torch.inference_mode():
            out = net(ta, tb, tt, 1.0)
        return (out[0] if isinstance(out, tuple) else out).numpy()

    return run


def ort_runner(path: Path, spec: dict, a: np.ndarray, b: np.ndarray, providers=None, sess=None):
    sess = sess or ort.InferenceSession(str(path), sess_options=session_options(spec),
                                        providers=providers or ["CPUExecutionProvider"])
    f = feeds(a, b)
    return lambda: sess.run(["frame"], f)[0]


def table(rows: list[dict], title: str) -> str:
    keys = list(rows[0])
    out = [f"### {title}", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        out.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in r.values()) + " |")
    return "\n".join(out) + "\n"


def ort_op_shares(path: Path, spec: dict, a: np.ndarray, b: np.ndarray, runs: int = 3) -> dict[str, float]:
    """ORT profiler: share of summed kernel time per op type over ``runs`` runs (after a
    warm-up run that is excluded); also the mean kernel ms per run under key '_total_ms'."""
    with tempfile.TemporaryDirectory() as tmp:
        o = session_options(spec)
        o.enable_profiling = True
        o.profile_file_prefix = str(Path(tmp) / "ort")
        sess = ort.InferenceSession(str(path), sess_options=o, providers=["CPUExecutionProvider"])
        f = feeds(a, b)
        sess.run(None, f)
        t_start = time.perf_counter()
        for _ in range(runs):
            sess.run(None, f)
        events = json.load(open(sess.end_profiling()))
    # the warm-up run is the first "model_run" event; count kernels after it ends
    model_runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")
    after = model_runs[0][1] if model_runs else 0
    per_op = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= after:
            per_op[e["args"]["op_name"]] += e["dur"]
    total = sum(per_op.values())
    shares = {k: v / total for k, v in per_op.most_common()}
    shares["_total_ms"] = total / runs / 1e3
    shares["_wall_ms"] = (time.perf_counter() - t_start) / runs * 1e3
    return shares


def torch_op_shares(name: str, a: np.ndarray, b: np.ndarray, runs: int = 3) -> dict[str, float]:
    """torch.profiler: share of self CPU time per aten op over ``runs`` runs."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    run = torch_runner(name, a, b)
    run()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(runs):
            run()
    per_op = collections.Counter()
    for ev in prof.key_averages():
        per_op[ev.key] += ev.self_cpu_time_total
    total = sum(per_op.values())
    shares = {k: v / total for k, v in per_op.most_common()}
    shares["_total_ms"] = total / runs / 1e3
    return shares


def shares_text(shares: dict[str, float], top: int = 10) -> str:
    items = [(k, v) for k, v in shares.items() if not k.startswith("_")][:top]
    return ", ".join(f"{k} {100 * v:.1f}%" for k, v in items)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=("warp", "options", "profile", "startup", "openvino"), default="warp")
    ap.add_argument("--models", nargs="+", default=["rife46", "rife39"])
    ap.add_argument("--clips", nargs="+", default=list(CLIPS))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warp", default="gridsample", help="warp formulation for options/profile/startup")
    ap.add_argument("--warps", nargs="+", default=["gridsample", "gridsample_fast", "gridsample_banded", "gather"],
                    help="export variants: a warp formulation, optionally '+prelu' (PReLU exported as Relu + Min * slope)")
    ap.add_argument("--options", nargs="+", default=list(OPTION_SETS))
    ap.add_argument("--model-dir", default=str(Path(tempfile.gettempdir()) / "vsvfi-profile"),
                    help="where the exported variants go (not models/, not the manifest)")
    ap.add_argument("--frames", help="npz from --dump-frames (openvino stage)")
    ap.add_argument("--dump-frames", help="write the padded frame pairs to this npz and exit")
    ap.add_argument("--json", help="append the results to this JSON-lines file")
    ap.add_argument("--threads", type=int, default=0, help="threads of torch and ORT (0: cores / ORT default)")
    ap.add_argument("--clock", choices=tuple(CLOCK), default="wall")
    args = ap.parse_args()
    global THREADS, clock
    THREADS, clock = args.threads, CLOCK[args.clock]
    outdir = Path(args.model_dir)
    outdir.mkdir(parents=True, exist_ok=True)
    print(f"onnxruntime {ort.__version__}, {os.cpu_count()} cores, stage {args.stage}, threads {args.threads}, "
          f"clock {args.clock}, load average {os.getloadavg()[0]:.1f}", flush=True)

    pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    if args.frames:
        data = np.load(args.frames)
        for key in data.files:
            model, stem, which = key.split(":")
            pairs.setdefault((model, stem), [None, None])[which == "b"] = data[key]
    else:
        for stem in args.clips:
            a, b = load_pair(stem)
            for model in args.models:
                pairs[(model, stem)] = (padded(a, PAD[model]), padded(b, PAD[model]))
    if args.dump_frames:
        np.savez(args.dump_frames, **{f"{m}:{s}:{w}": v[i] for (m, s), v in pairs.items() for i, w in enumerate("ab")})
        return 0

    results = []
    for (model, stem), (a, b) in pairs.items():
        if model not in args.models or stem not in args.clips:
            continue
        where = f"{model} {stem} {a.shape[3]}x{a.shape[2]}"
        if args.stage == "warp":
            cands = {"torch": torch_runner(model, a, b)}
            for f in args.warps:
                cands[f"ort {f}"] = ort_runner(export_variant(model, f, outdir), {}, a, b)
            outs = {k: fn() for k, fn in cands.items()}
            base = outs.get("ort gridsample")
            rows = summary(interleaved(cands, args.reps), "torch")
            for r in rows:
                out = outs[r["candidate"]]
                r["max_abs_diff_vs_torch"] = float(np.abs(out - outs["torch"]).max())
                if base is not None:
                    r["max_abs_diff_vs_ort_gridsample"] = float(np.abs(out - base).max())
        elif args.stage == "options":
            path = export_variant(model, args.warp, outdir)
            cands = {"torch": torch_runner(model, a, b)}
            for name in args.options:
                cands[f"ort {name}"] = ort_runner(path, OPTION_SETS[name], a, b)
            rows = summary(interleaved(cands, args.reps), "torch")
        elif args.stage == "profile":
            rows = []
            tsh = torch_op_shares(model, a, b)
            rows.append({"side": "torch eager", "ms_per_run": tsh["_total_ms"], "top ops": shares_text(tsh)})
            for f in args.warps:
                sh = ort_op_shares(export_variant(model, f, outdir), {}, a, b)
                rows.append({"side": f"ORT {f}", "ms_per_run": sh["_total_ms"], "top ops": shares_text(sh)})
        elif args.stage == "startup":
            path = export_variant(model, args.warp, outdir)
            rows = []
            for level in ("all", "extended"):
                opt = outdir / f"{model}-{args.warp}-opt-{level}.ort.onnx"
                t0 = time.perf_counter()
                s = ort.InferenceSession(str(path), sess_options=session_options({"level": level, "optimized_path": str(opt)}),
                                         providers=["CPUExecutionProvider"])
                t_save = time.perf_counter() - t0
                del s
                starts = {"plain": [], "pre-optimised": []}
                for _ in range(3):
                    for kind, p, spec in (("plain", path, {"level": level}), ("pre-optimised", opt, {"level": "disable"})):
                        t0 = time.perf_counter()
                        s = ort.InferenceSession(str(p), sess_options=session_options(spec), providers=["CPUExecutionProvider"])
                        starts[kind].append(time.perf_counter() - t0)
                        del s
                cands = {"plain": ort_runner(path, {"level": level}, a, b),
                         "pre-optimised": ort_runner(opt, {"level": "disable"}, a, b)}
                t = summary(interleaved(cands, max(2, args.reps // 2)), "plain")
                rows.append({"level": level, "first start + save s": t_save,
                             "start s (plain)": statistics.median(starts["plain"]),
                             "start s (pre-optimised file)": statistics.median(starts["pre-optimised"]),
                             "run speed pre-optimised vs plain": t[1]["speed_vs_plain (min)"],
                             "file MB": opt.stat().st_size / 1e6})
        else:  # openvino
            rows = openvino_rows(model, Path(args.model_dir), a, b, args.reps)
        print(table(rows, where), flush=True)
        results.append({"stage": args.stage, "where": where, "threads": args.threads, "clock": args.clock,
                        "load": os.getloadavg()[0], "rows": rows})
    if args.json:
        with open(args.json, "a") as fh:
            for r in results:
                fh.write(json.dumps(r) + "\n")
    return 0


def openvino_rows(model: str, model_dir: Path, a: np.ndarray, b: np.ndarray, reps: int) -> list[dict]:
    """CPU EP vs the OpenVINO EP (device CPU), whichever way this onnxruntime offers it:
    the onnxruntime-ep-openvino plugin (registered library, OrtEpDevice with
    ov_device=CPU) or a build with the EP compiled in (onnxruntime-openvino)."""
    path = model_dir / f"{model}.onnx"
    cands = {"ort cpu": ort_runner(path, {}, a, b)}
    o = session_options({})
    try:
        import onnxruntime_ep_openvino as ov_plugin

        ort.register_execution_provider_library("openvino_ep", ov_plugin.get_library_path())
        devs = [d for d in ort.get_ep_devices() if d.ep_name == ov_plugin.get_ep_name()
                and d.ep_metadata.get("ov_device") == "CPU"]
        if not devs:
            raise RuntimeError("the OpenVINO plugin offers no CPU device here (it accepts Intel devices only)")
        o.add_provider_for_devices(devs[:1], {})
        sess = ort.InferenceSession(str(path), sess_options=o)
    except ImportError:
        sess = ort.InferenceSession(str(path), sess_options=o, providers=[("OpenVINOExecutionProvider", {"device_type": "CPU"})])
    assert sess.get_providers()[0] == "OpenVINOExecutionProvider", sess.get_providers()
    cands["ort openvino"] = ort_runner(path, {}, a, b, sess=sess)
    diff = float(np.abs(cands["ort openvino"]() - cands["ort cpu"]()).max())
    rows = summary(interleaved(cands, reps), "ort cpu")
    rows[1]["max_abs_diff_vs_cpu_ep"] = diff
    rows[0]["max_abs_diff_vs_cpu_ep"] = 0.0
    return rows


if __name__ == "__main__":
    sys.exit(main())

"""GPU check of vsvfi's CUDA path (docs/gpu.md): one run, markdown tables with the device,
driver, CUDA/cuDNN and ONNX Runtime versions in the header.

Sections (``--sections``, in this order by default):

- ``engine``: per model and frame size, the same real frame pair through ONNX Runtime's CUDA
  EP: fp32 ``session.run``, fp32 IO binding, fp16 IO binding with host inputs, with inputs
  already on the GPU, GPU only (output left there), 2 sessions from 2 threads, the filter's
  per-pair path (vsvfi Engine: pad + cast on the host or on the GPU, upload, run, copy back),
  static-shape sessions (``vsvfi.runtime.graphs.static_model``) alone and with a CUDA graph,
  ``scale="auto"``'s fused scales on one pair (rife46: three runs with their misfits),
  ``prefer_nhwc``, and a CUDA graph of the dynamic graph where it starts; frames per second (median of ``--runs``
  timed calls after warm-up) and max / mean |difference| against CUDA fp32 and CPU fp32.
  Node placement: ``session.disable_cpu_ep_fallback`` and ORT's profile (which nodes ran on
  which provider).
- ``torch``: rife46 with the image's torch (network from vsvfi/export, weights read from the
  verified ONNX file): fp32, fp16 ``.half()`` channels_last, fp16 autocast, fp16 with a CUDA
  graph; ``torch.inference_mode``.
- ``psnr``: frame-dropping run at the largest size (bigbuckbunny: frames k and k+2 in, k+1
  expected): PSNR of CUDA fp16 and fp32 through the vsvfi Engine.
- ``filter``: the whole filter through VapourSynth at the largest size, 2x: source chain alone,
  default settings, without protect_static, host-side padding, dynamic shapes, 2 streams,
  then vspipe;
  synthesized frames per second, CPU cores busy, GPU utilisation, and where the time goes
  inside the filter (seconds per synthesized frame summed over threads).

    python scripts/gpu_check.py [--out DIR] [--models rife46 rife39] [--sizes 1280x720 1920x1080]
                                [--runs 30] [--sections engine torch psnr filter] [--device 0]
    python scripts/gpu_check.py --dry-run-on-cpu --sizes 160x96 --runs 2 --filter-frames 6

``--dry-run-on-cpu`` exercises every code path with the CPU EP standing in for CUDA (the
numbers mean nothing). Without a CUDA device (and no dry run) it says so and exits 0.
TensorRT is not measured: its libraries are not on the machines this was written for.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def graph_state(eng) -> str:
    """The provider an engine runs on, and whether its CUDA graphs were captured."""
    ep = eng.active_provider.replace("ExecutionProvider", "")
    if not eng.cuda_graph:
        return ep
    return ep + (f", graph refused: {eng.cuda_graph_errors[0]}" if eng.cuda_graph_errors else ", graph")


class Report:
    """Markdown written as it is made (stdout and ``DIR/gpu_check.md``), rows also kept for
    ``DIR/gpu_check.json``."""

    def __init__(self, out: Path | None):
        self.out = out
        self.data: dict = {"sections": {}}
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "gpu_check.md").write_text("")

    def line(self, text: str = "") -> None:
        print(text, flush=True)
        if self.out:
            with open(self.out / "gpu_check.md", "a") as fh:
                fh.write(text + "\n")

    def table(self, section: str, head: list[str], rows: list[list]) -> None:
        self.line("| " + " | ".join(head) + " |")
        self.line("|" + "---|" * len(head))
        for r in rows:
            self.line("| " + " | ".join(str(v) for v in r) + " |")
        self.line()
        self.data["sections"].setdefault(section, []).extend(dict(zip(head, r)) for r in rows)
        self.save()

    def save(self) -> None:
        if self.out:
            (self.out / "gpu_check.json").write_text(json.dumps(self.data, indent=1, default=str))


def gpu_facts(device: int) -> dict:
    facts = {}
    try:
        q = subprocess.run(["nvidia-smi", f"--id={device}", "--query-gpu=name,driver_version,memory.total",
                            "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
        facts["gpu"], facts["driver"], facts["memory"] = (v.strip() for v in q.stdout.strip().split(","))
    except Exception as exc:
        facts["gpu"] = f"(nvidia-smi: {type(exc).__name__})"
    return facts


class GpuMonitor:
    """Mean GPU utilisation (%) from ``nvidia-smi -lms`` while the block runs; None if unavailable."""

    def __init__(self, device: int, enabled: bool):
        self.device, self.enabled, self.mean = device, enabled, None

    def __enter__(self):
        self.proc = None
        if self.enabled and shutil.which("nvidia-smi"):
            self.proc = subprocess.Popen(["nvidia-smi", f"--id={self.device}", "--query-gpu=utilization.gpu",
                                          "--format=csv,noheader,nounits", "-lms", "100"],
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.terminate()
            out = self.proc.communicate(timeout=10)[0]
            vals = [float(v) for v in out.split() if re.fullmatch(r"\d+(\.\d+)?", v)]
            self.mean = statistics.fmean(vals) if vals else None


def bench(fn, runs: int, warmup: int = 5) -> dict:
    """Per-call wall times of ``fn`` (which must return after its device work is done):
    frames/s from the median, and the 10th / 90th percentile in ms."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    med = statistics.median(times)
    return {"fps": 1 / med, "ms": med * 1e3, "p10": times[len(times) // 10] * 1e3,
            "p90": times[min(len(times) - 1, (len(times) * 9) // 10)] * 1e3}


def bench_threads(fns: list, runs: int, warmup: int = 3) -> dict:
    """Throughput of ``len(fns)`` threads each calling its function ``runs`` times at once."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    barrier = threading.Barrier(len(fns) + 1)

    def work(fn):
        barrier.wait()
        for _ in range(runs):
            fn()
    threads = [threading.Thread(target=work, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    fps = len(fns) * runs / wall
    return {"fps": fps, "ms": 1e3 / fps, "p10": "-", "p90": "-"}


def real_frames(width: int, height: int, indices) -> tuple[list[np.ndarray], str]:
    """bigbuckbunny frames as float32 (3, height, width) RGB in [0, 1] (VapourSynth +
    bestsource + zimg), else smooth synthetic frames panning 7.3 px per frame."""
    try:
        import vapoursynth as vs

        from vsvfi import assets
        from vsvfi.frames import frame_array

        clip = vs.core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bigbuckbunny"])))
        rgb = vs.core.resize.Bicubic(clip, width, height, format=vs.RGBS, matrix_in_s="709")
        return [np.clip(frame_array(rgb.get_frame(n)), 0, 1) for n in indices], "bigbuckbunny"
    except Exception as exc:
        rng = np.random.default_rng(0)
        small = rng.random((3, height // 16 + 2, (width + 8 * len(indices)) // 16 + 2), np.float32)
        ys = np.linspace(0, small.shape[1] - 1.001, height)
        xs = np.linspace(0, small.shape[2] - 1.001, width + 8 * len(indices))
        y0, x0 = ys.astype(int), xs.astype(int)
        fy, fx = (ys - y0)[:, None], xs - x0
        rows = small[:, y0] * (1 - fy) + small[:, y0 + 1] * fy
        img = (rows[:, :, x0] * (1 - fx) + rows[:, :, x0 + 1] * fx).astype(np.float32)
        out = []
        for k in range(len(indices)):
            pos = np.arange(width) + 7.3 * k
            i0 = np.floor(pos).astype(int)
            f = (pos - i0).astype(np.float32)
            out.append(img[:, :, i0] * (1 - f) + img[:, :, i0 + 1] * f)
        return out, f"synthetic 7.3 px pan ({type(exc).__name__})"


def diff(a: np.ndarray, b: np.ndarray) -> str:
    d = np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32))
    return f"{d.max():.4f} / {d.mean():.1e}"


class Check:
    def __init__(self, args, report: Report):
        import onnxruntime as ort

        from vsvfi.runtime import binding, fp16, graphs, providers
        self.args, self.rep, self.ort = args, report, ort
        self.binding, self.fp16, self.graphs, self.providers = binding, fp16, graphs, providers
        self.dry = args.dry_run_on_cpu
        self.cuda_opts = providers.cuda_provider_options(args.device)
        self.cuda = "CPUExecutionProvider" if self.dry else ("CUDAExecutionProvider", self.cuda_opts)
        self.provider = "cpu" if self.dry else "cuda"
        self.sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]

    # ----------------------------------------------------------------- helpers
    def session(self, path, providers=None, fallback=True, profile: str | None = None, dims=None, **cuda_extra):
        """A session of ``path`` (or serialized bytes); ``dims``: (batch, height, width) fixed."""
        so = self.ort.SessionOptions()
        so.log_severity_level = 3
        if dims:
            self.graphs.fix_dimensions(so, *dims)
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if not fallback:
            so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        if profile:
            so.enable_profiling = True
            so.profile_file_prefix = profile
        if providers is None:
            if self.dry:
                providers = ["CPUExecutionProvider"]
            else:
                opts = dict(self.cuda_opts, **{k: str(v) for k, v in cuda_extra.items()})
                providers = [("CUDAExecutionProvider", opts)] + (["CPUExecutionProvider"] if fallback else [])
        return self.ort.InferenceSession(path if isinstance(path, bytes) else str(path), so, providers=providers)

    @staticmethod
    def feed(a, b, pad: int, dtype=np.float32, t: float = 0.5) -> dict:
        from vsvfi.runtime import pad_batch

        return {"img0": pad_batch(a, pad, "edge", dtype), "img1": pad_batch(b, pad, "edge", dtype),
                "timestep": np.full((1, 1, 1, 1), t, dtype), "scale": np.ones(1, np.float32)}

    def try_row(self, rows, size, label, make, ref32, refcpu, runs, threads=False):
        """Build the variant with ``make()`` -> (fn, output_fn, runs_on), time it, add a row."""
        h, w = size[1], size[0]
        t0 = time.perf_counter()
        try:
            fn, out_fn, runs_on = make()
            setup = time.perf_counter() - t0
            out = np.asarray(out_fn(), np.float32)[0, :, :h, :w] if out_fn else None
            r = bench_threads(fn, runs) if threads else bench(fn, runs)
            rows.append([f"{w}x{h}", label, runs_on, f"{r['fps']:.1f}", f"{r['ms']:.2f}",
                         r["p10"] if isinstance(r["p10"], str) else f"{r['p10']:.2f}",
                         r["p90"] if isinstance(r["p90"], str) else f"{r['p90']:.2f}",
                         diff(out, ref32) if out is not None and ref32 is not None else "-",
                         diff(out, refcpu) if out is not None and refcpu is not None else "-", f"{setup:.1f}"])
            return out
        except Exception as exc:
            traceback.print_exc(limit=3)
            rows.append([f"{w}x{h}", label, "-", "failed", "-", "-", "-", "-",
                         f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}", "-"])
            return None

    def graph_replay(self, s, feed: dict):
        """A session made with ``enable_cuda_graph=1``, its inputs and output bound once to
        fixed device buffers (what a CUDA graph needs); the first run captures the graph.
        Returns (replay, output fetcher, provider) for :meth:`try_row`."""
        names = {i.name for i in s.get_inputs()}
        ins = {k: self.ort.OrtValue.ortvalue_from_numpy(v, "cuda", self.args.device)
               for k, v in feed.items() if k in names}
        outv = self.ort.OrtValue.ortvalue_from_shape_and_type(feed["img0"].shape, np.float16, "cuda",
                                                              self.args.device)
        bind = s.io_binding()
        for k, v in ins.items():
            bind.bind_ortvalue_input(k, v)
        bind.bind_ortvalue_output("frame", outv)

        def go():
            s.run_with_iobinding(bind)
        go()
        return go, (lambda: (go(), outv.numpy())[1]), s.get_providers()[0]

    # ----------------------------------------------------------------- engine
    def placement(self, name: str, path, label: str, feed, dims=None) -> str:
        """Where the nodes of one run ran (ORT's profile), whether the session starts with
        ``disable_cpu_ep_fallback``, and the op types taking most kernel time over 5 runs
        after a first one (cuDNN's algorithm search)."""
        parts = []
        if not self.dry:
            try:
                self.session(path, fallback=False, dims=dims)
                parts.append("disable_cpu_ep_fallback: starts")
            except Exception as exc:
                parts.append(f"disable_cpu_ep_fallback: refused ({str(exc).splitlines()[0][:200]})")
        try:
            prefix = str(Path(tempfile.gettempdir()) / f"vsvfi_prof_{name}_{label}")
            s = self.session(path, profile=prefix, dims=dims)
            names = {i.name for i in s.get_inputs()}
            for _ in range(6):
                s.run(None, {k: v for k, v in feed.items() if k in names})
            prof = s.end_profiling()
            events = json.loads(Path(prof).read_text())
            runs = sorted(e["ts"] + e["dur"] for e in events if e.get("name") == "model_run")
            by_ep: dict[str, dict[str, int]] = {}
            kernel_us: dict[str, float] = {}
            for e in events:
                args = e.get("args", {})
                if e.get("cat") == "Node" and "provider" in args and e.get("name", "").endswith("_kernel_time"):
                    ep = args["provider"].replace("ExecutionProvider", "")
                    op = args.get("op_name", "?")
                    if runs and e["ts"] < runs[0]:  # the first run: count its nodes
                        by_ep.setdefault(ep, {}).setdefault(op, 0)
                        by_ep[ep][op] += 1
                    elif runs:
                        kernel_us[op] = kernel_us.get(op, 0.0) + e["dur"] / 5
            for ep, ops in sorted(by_ep.items()):
                parts.append(f"{ep}: {sum(ops.values())} nodes" + (
                    f" ({', '.join(f'{k} {v}' for k, v in sorted(ops.items()))})" if ep != "CUDA" else ""))
            total = sum(kernel_us.values())
            top = sorted(kernel_us.items(), key=lambda kv: -kv[1])[:8]
            parts.append(f"node time per run {total / 1e3:.2f} ms: " +
                         ", ".join(f"{k} {v / 1e3:.2f}" for k, v in top))
        except Exception as exc:
            parts.append(f"profile failed: {type(exc).__name__}: {str(exc)[:160]}")
        return "; ".join(parts)

    def engine_section(self) -> None:
        from vsvfi.runtime import RifeEngine
        from vsvfi.models import MODELS, verified_onnx

        rep, runs = self.rep, self.args.runs
        rep.line("## Engine level: one frame pair, timestep 0.5, scale 1\n")
        head = ["size", "variant", "runs on", "frames/s", "ms (median)", "p10 ms", "p90 ms",
                "max / mean diff vs CUDA fp32", "vs CPU fp32", "setup s"]
        for name in self.args.models:
            spec = MODELS[name]
            path32, _ = verified_onnx(name)
            path16 = self.fp16.fp16_onnx(name)
            rows, places = [], []
            for size in self.sizes:
                w, h = size
                (a, b), origin = real_frames(w, h, (60, 61))
                pad = spec.pad_for(1.0)
                f32 = self.feed(a, b, pad)
                f16 = self.feed(a, b, pad, np.float16)
                t0 = time.perf_counter()
                cpu = self.session(path32, ["CPUExecutionProvider"])
                refcpu = cpu.run(None, f32)[0][0, :, :h, :w]
                rep.line(f"{name} {w}x{h} ({origin} 60/61, padded to {f32['img0'].shape[3]}x{f32['img0'].shape[2]}): "
                         f"CPU fp32 reference in {time.perf_counter() - t0:.1f} s")
                del cpu
                ref32 = None

                def fp32_run():
                    s = self.session(path32)
                    return (lambda: s.run(None, f32)), (lambda: s.run(None, f32)[0]), s.get_providers()[0]
                out = self.try_row(rows, size, "fp32, session.run", fp32_run, None, refcpu, runs)
                ref32 = out

                def fp32_bound():
                    r = self.binding.BoundRunner(self.session(path32), cpu_inputs=("scale",))
                    return (lambda: r.run(f32)), (lambda: r.run(f32)[0]), r.session.get_providers()[0]
                self.try_row(rows, size, "fp32, IO binding (host in/out)", fp32_bound, ref32, refcpu, runs)

                s16 = {}

                def fp16_host():
                    r = s16["r"] = self.binding.BoundRunner(self.session(path16), cpu_inputs=("scale",))
                    return (lambda: r.run(f16)), (lambda: r.run(f16)[0]), r.session.get_providers()[0]
                self.try_row(rows, size, "fp16, IO binding (host fp16 in/out)", fp16_host, ref32, refcpu, runs)

                def dev_feed(r):
                    return {"img0": r.upload(f16["img0"]), "img1": r.upload(f16["img1"]),
                            "timestep": f16["timestep"], "scale": f16["scale"]}

                def fp16_dev():
                    r = s16["r"]
                    d = dev_feed(r)
                    return (lambda: r.run(d)), (lambda: r.run(d)[0]), r.session.get_providers()[0]
                self.try_row(rows, size, "fp16, inputs on GPU, output to host", fp16_dev, ref32, refcpu, runs)

                def fp16_gpu_only():
                    r = s16["r"]
                    d = dev_feed(r)
                    return (lambda: r.run(d, to_host=False)), None, r.session.get_providers()[0]
                self.try_row(rows, size, "fp16, GPU only (output stays on GPU)", fp16_gpu_only, ref32, refcpu, runs)

                def static_runner(**cuda_extra):
                    import onnx

                    so = self.ort.SessionOptions()
                    so.log_severity_level = 3
                    self.graphs.fix_dimensions(so, *f16["img0"].shape[:1], *f16["img0"].shape[2:])
                    data = self.graphs.static_model(onnx.load(str(path16)), 1.0).SerializeToString()
                    prov = ["CPUExecutionProvider"] if self.dry else [
                        ("CUDAExecutionProvider", dict(self.cuda_opts, **{k: str(v) for k, v in cuda_extra.items()})),
                        "CPUExecutionProvider"]
                    return self.binding.BoundRunner(self.ort.InferenceSession(data, so, providers=prov))

                def fp16_static():
                    r = static_runner()
                    d = {k: v for k, v in dev_feed(r).items() if k != "scale"}
                    return (lambda: r.run(d)), (lambda: r.run(d)[0]), r.session.get_providers()[0]
                self.try_row(rows, size, "fp16, static shapes, inputs on GPU, output to host", fp16_static, ref32,
                             refcpu, runs)

                def fp16_static_gpu():
                    r = static_runner()
                    d = {k: v for k, v in dev_feed(r).items() if k != "scale"}
                    return (lambda: r.run(d, to_host=False)), None, r.session.get_providers()[0]
                self.try_row(rows, size, "fp16, static shapes, GPU only", fp16_static_gpu, ref32, refcpu, runs)

                if not self.dry:
                    def static_graph():
                        return self.graph_replay(static_runner(enable_cuda_graph=1).session, f16)
                    self.try_row(rows, size, "fp16, static shapes, CUDA graph, all on GPU", static_graph, ref32,
                                 refcpu, runs)

                def fp16_two():
                    r1 = s16["r"]
                    r2 = self.binding.BoundRunner(self.session(path16), cpu_inputs=("scale",))
                    d1, d2 = dev_feed(r1), dev_feed(r2)
                    return [lambda: r1.run(d1), lambda: r2.run(d2)], (lambda: r2.run(d2)[0]), \
                        r2.session.get_providers()[0]
                self.try_row(rows, size, "fp16, 2 sessions x 2 threads, inputs on GPU", fp16_two, ref32, refcpu,
                             runs, threads=True)
                s16.clear()

                for device_pad, static in ((False, False), (True, False), (True, None)):
                    def engine_path(device_pad=device_pad, static=static):
                        eng = RifeEngine(name, self.provider, self.args.device, precision="fp16", device_pad=device_pad,
                                     static_shapes=static)

                        def step():
                            return eng.synthesize(eng.prepare(a, b), 0.5)
                        return step, (lambda: step()[None]), eng.active_provider
                    where = "GPU" if device_pad else "host"
                    shapes = "static shapes (default)" if static is None else "dynamic shapes"
                    self.try_row(rows, size, f"fp16 Engine per pair: float32 frames in, pad+cast on {where}, "
                                 f"{shapes}, float32 out", engine_path, ref32, refcpu, runs)

                def engine_graph():
                    eng = RifeEngine(name, self.provider, self.args.device, precision="fp16", static_shapes=True,
                                     cuda_graph=True)

                    def step():
                        return eng.synthesize(eng.prepare(a, b), 0.5)
                    step()
                    return step, (lambda: step()[None]), graph_state(eng)
                self.try_row(rows, size, "fp16 Engine per pair: float32 frames in, pad+cast on GPU, static shapes, "
                             "CUDA graph (cuda_graph=True), float32 out", engine_graph, ref32, refcpu, runs)

                if "disagreement" in MODELS[name].outputs:
                    def engine_fused():
                        from vsvfi.scale_fusion import FUSED_SCALES, fuse, prepare as fused_pairs, runs as fused_runs

                        eng = RifeEngine(name, self.provider, self.args.device, precision="fp16")

                        def step():
                            pairs = fused_pairs(eng, a, b, FUSED_SCALES)
                            return fuse(*zip(*fused_runs(eng, pairs, 0.5, FUSED_SCALES)))
                        step()
                        return step, None, eng.active_provider
                    self.try_row(rows, size, 'fp16 Engine per pair, scale="auto" on large motion: scales 1, 0.5 and '
                                 "0.25 with their misfits, fused (differs from scale 1 by design: no diff)",
                                 engine_fused, ref32, refcpu, runs)

                for graph in (False, True):
                    def engine_threads(graph=graph):
                        eng = RifeEngine(name, self.provider, self.args.device, precision="fp16", streams=2,
                                         static_shapes=True if graph else None, cuda_graph=graph)

                        def step():
                            return eng.synthesize(eng.prepare(a, b), 0.5, dtype=None)
                        step()
                        return [step] * 4, (lambda: step()[None]), graph_state(eng)
                    self.try_row(rows, size, "fp16 Engine per pair, 2 streams, 4 threads, fp16 out" +
                                 (", CUDA graph" if graph else ""), engine_threads, ref32, refcpu, runs, threads=True)

                if not self.dry:
                    def nhwc():
                        r = self.binding.BoundRunner(self.session(path16, prefer_nhwc=1), cpu_inputs=("scale",))
                        d = dev_feed(r)
                        return (lambda: r.run(d)), (lambda: r.run(d)[0]), r.session.get_providers()[0]
                    self.try_row(rows, size, "fp16, prefer_nhwc, inputs on GPU", nhwc, ref32, refcpu, runs)

                    def cuda_graph():
                        return self.graph_replay(self.session(path16, enable_cuda_graph=1), f16)
                    self.try_row(rows, size, "fp16, CUDA graph (enable_cuda_graph), all on GPU", cuda_graph,
                                 ref32, refcpu, runs)
                if size == self.sizes[-1]:
                    import onnx

                    static16 = self.graphs.static_model(onnx.load(str(path16)), 1.0).SerializeToString()
                    dims = (1, *f16["img0"].shape[2:])
                    for label, path, fd, dm in (("fp32", path32, f32, None), ("fp16", path16, f16, None),
                                                ("fp16 static shapes", static16, f16, dims)):
                        places.append([f"{w}x{h}", label, self.placement(name, path, label, fd, dm)])
            rep.line(f"### {name}\n")
            rep.table(f"engine/{name}", head, rows)
            rep.table(f"placement/{name}", ["size", "graph", "where the nodes ran"], places)

    # ----------------------------------------------------------------- torch
    def torch_section(self) -> None:
        import onnx
        import torch
        from onnx import numpy_helper

        import vsvfi.export.rife46 as r46
        from vsvfi.models import verified_onnx

        rep, runs = self.rep, self.args.runs
        dev = torch.device("cpu" if self.dry else f"cuda:{self.args.device}")
        rep.line(f"## torch {torch.__version__} eager beside it (rife46, {dev})\n")
        path32, _ = verified_onnx("rife46")
        inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path32)).graph.initializer}
        net = r46.IFNet46()
        state = {k: torch.from_numpy(inits[k].copy()) for k in net.state_dict()}
        net.load_state_dict(state, strict=True)
        net.eval().to(dev)
        # vs-rife-style eager: the scale is a Python number (no (1,) tensor on the host), and
        # the fp16 network samples in float32 (vs-rife upcasts its warp's inputs)
        r46.as_scale = float
        warp32 = {"on": False}
        plain_warp = r46.backward_warp

        def warp(img, flow):
            if warp32["on"] and img.dtype == torch.float16:
                return plain_warp(img.float(), flow.float()).half()
            return plain_warp(img, flow)
        r46.backward_warp = warp
        head = ["size", "variant", "frames/s", "ms (median)", "p10 ms", "p90 ms",
                "max / mean diff vs torch fp32", "vs ORT CPU fp32"]
        rows = []

        def sync():
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
        for w, h in self.sizes:
            (a, b), _ = real_frames(w, h, (60, 61))
            ph, pw = -h % 32, -w % 32
            f32 = self.feed(a, b, 32)
            cpu = self.session(path32, ["CPUExecutionProvider"])
            refcpu = cpu.run(None, f32)[0][0, :, :h, :w]
            del cpu
            x0 = torch.from_numpy(f32["img0"]).to(dev)
            x1 = torch.from_numpy(f32["img1"]).to(dev)
            ts = torch.full((1, 1, 1, 1), 0.5, device=dev)
            ref = None
            net_h = None
            for label in ("fp32", "fp16 .half(), channels_last, warp fp32",
                          "fp16 .half(), channels_last, warp fp32, CUDA graph",
                          "fp16 .half(), channels_last, warp fp32, host fp32 in/out",
                          "fp16 autocast, channels_last", "fp16 .half(), NCHW, warp fp16 too"):
                warp32["on"] = "warp fp32" in label
                try:
                    if label == "fp32":
                        def fn():
                            with torch.inference_mode():
                                y = net(x0, x1, ts, 1.0)
                            sync()
                            return y
                    elif "NCHW" in label:
                        net_n = r46.IFNet46()
                        net_n.load_state_dict(state, strict=True)
                        net_n = net_n.eval().to(dev).half()
                        n0, n1, nt = x0.half(), x1.half(), ts.half()

                        def fn():
                            with torch.inference_mode():
                                y = net_n(n0, n1, nt, 1.0)
                            sync()
                            return y
                    elif label.startswith("fp16 .half()"):
                        if net_h is None:
                            net_h = r46.IFNet46()
                            net_h.load_state_dict(state, strict=True)
                            net_h = net_h.eval().to(dev).half().to(memory_format=torch.channels_last)
                        h0 = x0.half().contiguous(memory_format=torch.channels_last)
                        h1 = x1.half().contiguous(memory_format=torch.channels_last)
                        th = ts.half()
                        if "CUDA graph" in label:
                            if dev.type != "cuda":
                                continue
                            stream = torch.cuda.Stream(dev)
                            stream.wait_stream(torch.cuda.current_stream(dev))
                            with torch.cuda.stream(stream), torch.inference_mode():
                                for _ in range(3):
                                    net_h(h0, h1, th, 1.0)
                            torch.cuda.current_stream(dev).wait_stream(stream)
                            graph = torch.cuda.CUDAGraph()
                            with torch.cuda.graph(graph), torch.inference_mode():
                                out_static = net_h(h0, h1, th, 1.0)

                            def fn(graph=graph, out_static=out_static):
                                graph.replay()
                                sync()
                                return out_static
                        elif "host in/out" in label:
                            def fn():
                                with torch.inference_mode():
                                    i0 = torch.from_numpy(f32["img0"]).to(dev).half().contiguous(
                                        memory_format=torch.channels_last)
                                    i1 = torch.from_numpy(f32["img1"]).to(dev).half().contiguous(
                                        memory_format=torch.channels_last)
                                    y = net_h(i0, i1, th, 1.0).float().cpu()
                                return y
                        else:
                            def fn():
                                with torch.inference_mode():
                                    y = net_h(h0, h1, th, 1.0)
                                sync()
                                return y
                    else:
                        net_c = net.to(memory_format=torch.channels_last)
                        c0 = x0.contiguous(memory_format=torch.channels_last)
                        c1 = x1.contiguous(memory_format=torch.channels_last)

                        def fn():
                            with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.float16,
                                                                        enabled=dev.type == "cuda"):
                                y = net_c(c0, c1, ts, 1.0)
                            sync()
                            return y
                    out = fn().float().cpu().numpy()[0, :, :h, :w]
                    if not np.isfinite(out).all():
                        raise FloatingPointError("the output holds NaN or inf")
                    if ref is None:
                        ref = out
                    r = bench(fn, runs)
                    rows.append([f"{w}x{h}", label, f"{r['fps']:.1f}", f"{r['ms']:.2f}", f"{r['p10']:.2f}",
                                 f"{r['p90']:.2f}", diff(out, ref), diff(out, refcpu)])
                except Exception as exc:
                    traceback.print_exc(limit=3)
                    rows.append([f"{w}x{h}", label, "failed", "-", "-", "-", "-",
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"])
            rep.table("torch", head, rows)
            rows = []
        if dev.type == "cuda":
            rep.line(f"cuDNN {torch.backends.cudnn.version()}, torch CUDA {torch.version.cuda}\n")

    # ----------------------------------------------------------------- psnr
    def psnr_section(self) -> None:
        from vsvfi.runtime import RifeEngine

        rep = self.rep
        w, h = self.sizes[-1]
        n = self.args.psnr_triplets
        frames, origin = real_frames(w, h, range(2 * n + 1))
        rep.line(f"## fp16 vs fp32 on a frame-dropping run ({origin} {w}x{h}, frames 0..{2 * n}: "
                 f"k and k+2 in, k+1 expected, {n} triplets)\n")
        rows = []
        outs = {}
        for model in self.args.models:
            for precision in ("fp32", "fp16"):
                try:
                    eng = RifeEngine(model, self.provider, self.args.device, precision=precision)
                    preds = [eng(frames[2 * k], frames[2 * k + 2], 0.5) for k in range(n)]
                    outs[(model, precision)] = preds
                    ps = []
                    for k, p in enumerate(preds):
                        mse = float(np.mean((np.clip(p, 0, 1).astype(np.float64) - frames[2 * k + 1]) ** 2))
                        ps.append(10 * np.log10(1 / max(mse, 1e-12)))
                    row = [model, precision, eng.active_provider.replace("ExecutionProvider", ""),
                           f"{statistics.fmean(ps):.3f}", f"{min(ps):.2f}", f"{max(ps):.2f}"]
                    if precision == "fp16" and (model, "fp32") in outs:
                        d = np.stack([np.abs(x - y) for x, y in zip(preds, outs[(model, "fp32")])])
                        row += [f"{d.max():.4f}", f"{d.mean():.1e}"]
                    else:
                        row += ["-", "-"]
                    rows.append(row)
                except Exception as exc:
                    traceback.print_exc(limit=3)
                    rows.append([model, precision, "failed", f"{type(exc).__name__}: {str(exc)[:160]}", "-", "-",
                                 "-", "-"])
        rep.table("psnr", ["model", "precision", "runs on", "mean PSNR dB", "min", "max",
                           "max |fp16 - fp32|", "mean |fp16 - fp32|"], rows)

    # ----------------------------------------------------------------- filter
    def filter_section(self) -> None:
        import vapoursynth as vs

        from vsvfi import assets, filter as vfilter, scenes
        from vsvfi.runtime import RifeEngine
        from vsvfi.timing import output_length

        rep, core = self.rep, vs.core
        w, h = self.sizes[-1]
        src = str(assets.fetch(assets.SAMPLES["bigbuckbunny"]))
        base = core.bs.VideoSource(src)
        reps = max(1, -(-self.args.filter_frames // base.num_frames))
        clip = core.resize.Bicubic(base, w, h) * reps
        clip = clip[:self.args.filter_frames]
        n_out = output_length(clip.num_frames, 2)
        rep.line(f"## The whole filter at {w}x{h} 2x (bigbuckbunny 1280x720 YUV420P8 decoded by bestsource, "
                 f"resized with core.resize.Bicubic, {reps}x looped: {clip.num_frames} source frames, "
                 f"{n_out} output frames), core.num_threads = {core.num_threads}, "
                 f"{os.cpu_count()} CPUs\n")

        # where the time goes: wall seconds inside these functions, summed over threads
        timers: dict[str, float] = {}
        lock = threading.Lock()

        def timed(label, fn):
            @functools.wraps(fn)
            def inner(*a, **k):
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    with lock:
                        timers[label] = timers.get(label, 0.0) + time.perf_counter() - t0
            return inner
        patches = [(vfilter, "frame_array", "frame_array (VS frame -> numpy)"),
                   (scenes, "compare_both", "scenes.compare_both (scene-change test on thumbnails)"),
                   (vfilter, "masks_and_motion", "protect.masks_and_motion"),
                   (vfilter, "paint", "overlay_motion.paint (both frames)"),
                   (vfilter, "layers", "overlay_motion.layers"),
                   (vfilter, "unmix", "overlay_motion.unmix"),
                   (RifeEngine, "prepare", "RifeEngine.prepare (pad, cast, upload)"),
                   (RifeEngine, "_run", "RifeEngine._run (network run incl. copies)"),
                   (vfilter._Interpolator, "_synthesize", "_synthesize (all of the above + copy into frame)")]
        originals = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]
        for obj, attr, label in patches:
            setattr(obj, attr, timed(label, getattr(obj, attr)))
        real_get_engine = vfilter.get_engine
        opts = dict(provider=self.provider, device_index=self.args.device, precision="fp16")
        variants = [("source chain only (decode + resize)", None, {}),
                    ("source -> RGBS -> YUV (zimg both ways)", "rgb", {}),
                    ("Interpolate 2x, defaults", "vfi", {}),
                    ("Interpolate 2x, protect_static=False", "vfi", {"protect_static": False}),
                    ("Interpolate 2x, pad+cast on the host, dynamic shapes", "vfi-hostpad", {}),
                    ("Interpolate 2x, dynamic shapes", "vfi-dynamic", {}),
                    ("Interpolate 2x, num_streams=2", "vfi", {"num_streams": 2}),
                    ("Interpolate 2x, num_streams=2, protect_static=False", "vfi",
                     {"num_streams": 2, "protect_static": False}),
                    ("Interpolate 2x, CUDA graph", "vfi-graph", {}),
                    ("Interpolate 2x, CUDA graph, protect_static=False", "vfi-graph", {"protect_static": False}),
                    ("Interpolate 2x, CUDA graph, num_streams=2, protect_static=False", "vfi-graph",
                     {"num_streams": 2, "protect_static": False})]
        if self.args.filter_variants:  # by the label's text after "Interpolate 2x, ", in the order given
            named = {lbl.removeprefix("Interpolate 2x, "): (lbl, kind, extra) for lbl, kind, extra in variants}
            variants = [named[k] for k in self.args.filter_variants]
        rows, breakdown = [], []
        try:
            for label, kind, extra in variants:
                try:
                    vfilter.get_engine = {
                        "vfi-hostpad": functools.partial(real_get_engine, device_pad=False, static_shapes=False),
                        "vfi-dynamic": functools.partial(real_get_engine, static_shapes=False),
                        "vfi-graph": functools.partial(real_get_engine, static_shapes=True, cuda_graph=True),
                    }.get(kind, real_get_engine)
                    if kind is None:
                        out = clip
                    elif kind == "rgb":
                        out = core.resize.Bicubic(core.resize.Bicubic(clip, format=vs.RGBS, matrix_in_s="709"),
                                                  format=vs.YUV420P8, matrix_s="709")
                    else:
                        out = vfilter.Interpolate(clip, ratio=2, **opts, **extra)
                        out.get_frame(1)  # engine warm-up (cuDNN algorithm search) outside the timing
                    timers.clear()
                    cpu0 = os.times()
                    synth = 0
                    with GpuMonitor(self.args.device, not self.dry) as mon:
                        t0 = time.perf_counter()
                        # in output order, core.num_threads frames requested at once, as vspipe does
                        for f in out.frames():
                            synth += f.props.get("VsvfiSynthesized", 0)
                        wall = time.perf_counter() - t0
                    cpu1 = os.times()
                    cores = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall
                    rows.append([label, out.num_frames, f"{out.num_frames / wall:.1f}",
                                 f"{synth / wall:.1f}" if kind not in (None, "rgb") else "-", synth if kind else "-",
                                 f"{cores:.1f}", "-" if mon.mean is None else f"{mon.mean:.0f}"])
                    if kind not in (None, "rgb") and synth:
                        breakdown.append([label] + [f"{timers.get(lbl, 0) / synth * 1e3:.2f}"
                                                    for _, _, lbl in patches])
                    # as it comes (the log): a run cut short by its time limit still says something
                    print(f"filter row, {wall:.1f} s: {rows[-1]}" + (f"; breakdown {breakdown[-1]}" if kind not in
                          (None, "rgb") and synth else ""), flush=True)
                except Exception as exc:
                    traceback.print_exc(limit=4)
                    rows.append([label, "failed", f"{type(exc).__name__}: {str(exc)[:200]}", "-", "-", "-", "-"])
        finally:
            vfilter.get_engine = real_get_engine
            for obj, attr, fn in originals:
                setattr(obj, attr, fn)
        rep.table("filter", ["pipeline (every output frame requested in order, VideoNode.frames)", "output frames",
                             "output frames/s", "synthesized frames/s", "synthesized", "CPU cores busy",
                             "GPU util %"], rows)
        rep.line("Per synthesized frame, ms of wall time inside each function summed over all threads "
                 "(a function holding the GIL serialises the threads):\n")
        rep.table("filter-breakdown", ["pipeline"] + [lbl for _, _, lbl in patches], breakdown)
        if self.args.vspipe_timeout:
            self.vspipe(clip, w, h)

    def vspipe(self, clip, w: int, h: int) -> None:
        """vspipe -c y4m on a .vpy doing the same, timed from outside (engine start included)."""
        import vapoursynth as vs

        rep = self.rep
        exe = shutil.which("vspipe") or str(Path(vs.__file__).parent / "vspipe")
        script = Path(tempfile.mkdtemp()) / "gpu_check.vpy"
        script.write_text(
            "import sys, vapoursynth as vs\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "import vsvfi\nfrom vsvfi import assets\n"
            "c = vs.core.bs.VideoSource(str(assets.fetch(assets.SAMPLES['bigbuckbunny'])))\n"
            f"c = (vs.core.resize.Bicubic(c, {w}, {h}) * {max(1, -(-clip.num_frames // 132))})[:{clip.num_frames}]\n"
            f"vsvfi.Interpolate(c, ratio=2, provider={self.provider!r}, precision='fp16').set_output()\n")
        try:
            subprocess.run([sys.executable, "-m", "vapoursynth", "config"], capture_output=True, timeout=60)
            t0 = time.perf_counter()
            p = subprocess.run([exe, "-c", "y4m", str(script), os.devnull], capture_output=True, text=True,
                               timeout=self.args.vspipe_timeout)
            wall = time.perf_counter() - t0
            tail = (p.stderr.strip().splitlines() or ["(no output)"])[-1]
            rep.line(f"vspipe -c y4m (process start, engine start and cuDNN search included): exit {p.returncode}, "
                     f"{wall:.1f} s wall; vspipe says: {tail}\n")
        except Exception as exc:
            rep.line(f"vspipe run failed: {type(exc).__name__}: {str(exc)[:300]}\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="also write gpu_check.md and gpu_check.json here")
    ap.add_argument("--models", nargs="+", default=["rife46"])
    ap.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    ap.add_argument("--runs", type=int, default=30, help="timed calls per variant (after 5 warm-up calls)")
    ap.add_argument("--sections", nargs="+", default=["engine", "torch", "psnr", "filter"],
                    choices=["engine", "torch", "psnr", "filter"])
    ap.add_argument("--psnr-triplets", type=int, default=24)
    ap.add_argument("--filter-frames", type=int, default=396, help="source frames of the filter runs")
    ap.add_argument("--vspipe-timeout", type=int, default=120, help="0: no vspipe run")
    ap.add_argument("--filter-variants", nargs="+", metavar="LABEL",
                    help="only these filter rows, named by their label after 'Interpolate 2x, ' "
                         "(e.g. defaults 'protect_static=False' 'CUDA graph')")
    ap.add_argument("--device", type=int, default=0)
    ap.add_argument("--dry-run-on-cpu", action="store_true",
                    help="exercise this script with the CPU EP standing in for CUDA; the numbers mean nothing")
    args = ap.parse_args()

    if "torch" in args.sections:
        try:
            import torch  # noqa: F401  (loads the CUDA / cuDNN libraries ORT's CUDA EP will use)
        except ImportError:
            args.sections.remove("torch")
    import onnxruntime as ort

    from vsvfi.runtime import cuda_device_count

    rep = Report(args.out)
    if not args.dry_run_on_cpu:
        if cuda_device_count() <= args.device or "CUDAExecutionProvider" not in ort.get_available_providers():
            print(f"gpu_check: no CUDA device {args.device} here ({cuda_device_count()} found; onnxruntime "
                  f"providers: {', '.join(ort.get_available_providers())}). Nothing to check; run it on a machine "
                  "with an NVIDIA GPU and onnxruntime-gpu.")
            return 0
        from vsvfi.runtime import preload_cuda_libraries
        preload_cuda_libraries()
    facts = gpu_facts(args.device) if not args.dry_run_on_cpu else {"gpu": "none (dry run on the CPU)"}
    try:
        from onnxruntime.capi import build_and_package_info as info
        ort_cuda = getattr(info, "cuda_version", "?")
        ort_cudnn = getattr(info, "cudnn_version", "?")
    except ImportError:
        ort_cuda = ort_cudnn = "?"
    torch_v = ""
    if "torch" in sys.modules:
        import torch
        torch_v = f", torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()})"
    rep.data["facts"] = dict(facts, onnxruntime=ort.__version__, ort_cuda=ort_cuda, ort_cudnn=ort_cudnn,
                             python=platform.python_version(), cpus=os.cpu_count())
    rep.line(f"# vsvfi GPU check: {facts.get('gpu')} (driver {facts.get('driver', '-')}, {facts.get('memory', '-')})\n")
    rep.line(f"onnxruntime {ort.__version__} (built for CUDA {ort_cuda}, cuDNN {ort_cudnn}), providers "
             f"{', '.join(ort.get_available_providers())}{torch_v}; Python {platform.python_version()}, "
             f"{os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    check = Check(args, rep)
    for section in args.sections:
        t0 = time.perf_counter()
        try:
            getattr(check, f"{section}_section")()
        except Exception as exc:
            traceback.print_exc()
            rep.line(f"section {section} failed: {type(exc).__name__}: {str(exc)[:300]}\n")
        rep.line(f"({section}: {time.perf_counter() - t0:.0f} s)\n")
    rep.save()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())

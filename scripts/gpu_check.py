"""GPU check of the CUDA / TensorRT path (docs/gpu.md): speed and accuracy of

- CUDA EP, fp32 graph, ``session.run`` (host copies inside run) and IO binding,
- CUDA EP, fp16 graph, IO binding (and two sessions from two threads),
- TensorRT EP, fp16 graph, IO binding, engine/timing cache under vsvfi's cache directory,

at 1280x720 and 1920x1080 (padded to 736 / 1088 rows), each against the CPU EP running the
fp32 graph on the same frames (max and mean abs difference, RGB in [0, 1]). Also reports
whether the CUDA sessions run every node on the GPU (session.disable_cpu_ep_fallback).
Prints a markdown table. Without a CUDA device it says so and exits 0.

    .venv/bin/python scripts/gpu_check.py [--model rife46] [--sizes 1280x720 1920x1080]
                                          [--runs 30] [--no-trt] [--device 0]

Frames: bigbuckbunny frames 60/61 (1280x720) resized with VapourSynth when it is available,
else a smooth synthetic image and a copy moved 7.3 px. TensorRT builds its engine on the
first run of a size (minutes at optimisation level 3); later runs load it from the cache.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vsvfi import gpu  # noqa: E402
from vsvfi.engine import cuda_device_count  # noqa: E402
from vsvfi.models import MODELS, read_manifest, verified_onnx  # noqa: E402


def device_name(index: int) -> str:
    import ctypes

    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        dev = ctypes.c_int()
        buf = ctypes.create_string_buffer(256)
        if cuda.cuInit(0) == 0 and cuda.cuDeviceGet(ctypes.byref(dev), index) == 0:
            cuda.cuDeviceGetName(buf, 256, dev)
            return buf.value.decode()
    except OSError:
        pass
    return f"CUDA device {index}"


def frames(width: int, height: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Two float32 (3, height, width) RGB frames in [0, 1] and where they come from."""
    try:
        import vapoursynth as vs

        from vsvfi import assets
        from vsvfi.filter import frame_array

        clip = vs.core.bs.VideoSource(str(assets.fetch(assets.SAMPLES["bigbuckbunny"])))
        rgb = vs.core.resize.Bicubic(clip, width, height, format=vs.RGBS, matrix_in_s="709")
        a, b = (np.clip(frame_array(rgb.get_frame(n)), 0, 1) for n in (60, 61))
        return a, b, "bigbuckbunny 60/61"
    except Exception as exc:  # no VapourSynth / bestsource / sample on this machine
        rng = np.random.default_rng(0)
        small = rng.random((3, height // 16 + 2, width // 16 + 2), np.float32)
        ys = np.linspace(0, small.shape[1] - 1.001, height)
        xs = np.linspace(0, small.shape[2] - 1.001, width + 8)
        y0, x0 = ys.astype(int), xs.astype(int)
        fy, fx = (ys - y0)[:, None], xs - x0
        rows = small[:, y0] * (1 - fy) + small[:, y0 + 1] * fy
        img = rows[:, :, x0] * (1 - fx) + rows[:, :, x0 + 1] * fx
        shift = 7.3
        a = img[:, :, 8:8 + width]
        xi = np.arange(width) + 8 - shift
        b = img[:, :, np.floor(xi).astype(int)] * (1 - (xi % 1)) + img[:, :, np.floor(xi).astype(int) + 1] * (xi % 1)
        return a.astype(np.float32), b.astype(np.float32), f"synthetic 7.3 px pan ({type(exc).__name__})"


def feed_for(a, b, pad: int, t: float = 0.5) -> dict[str, np.ndarray]:
    _, h, w = a.shape
    ph, pw = -h % pad, -w % pad
    pads = ((0, 0), (0, 0), (0, ph), (0, pw))
    return {"img0": np.pad(a[None], pads, mode="edge"), "img1": np.pad(b[None], pads, mode="edge"),
            "timestep": np.full((1, 1, 1, 1), t, np.float32), "scale": np.ones(1, np.float32)}


def make_session(path, providers, no_cpu_fallback=False):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if no_cpu_fallback:
        so.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    return ort.InferenceSession(str(path), so, providers=providers)


def timed(fn, runs: int, rounds: int = 3) -> float:
    """Median over ``rounds`` of the frames per second of ``runs`` calls (after 3 warm-up calls)."""
    for _ in range(3):
        fn()
    fps = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(runs):
            fn()
        fps.append(runs / (time.perf_counter() - t0))
    return statistics.median(fps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="rife46", choices=sorted(MODELS))
    ap.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--device", type=int, default=0)
    ap.add_argument("--no-trt", action="store_true")
    ap.add_argument("--dry-run-on-cpu", action="store_true",
                    help="exercise this script with the CPU EP standing in for CUDA (no TensorRT); "
                         "the numbers mean nothing")
    args = ap.parse_args()

    import onnxruntime as ort

    count = cuda_device_count()
    dry = args.dry_run_on_cpu
    if not dry and (count <= args.device or "CUDAExecutionProvider" not in ort.get_available_providers()):
        print(f"gpu_check: no CUDA device {args.device} here ({count} found; onnxruntime providers: "
              f"{', '.join(ort.get_available_providers())}). Nothing to check; run it on a machine with an "
              "NVIDIA GPU and onnxruntime-gpu.")
        return 0
    if hasattr(ort, "preload_dlls") and not dry:
        ort.preload_dlls()
    spec = MODELS[args.model]
    path32, _ = verified_onnx(args.model)
    path16 = gpu.fp16_onnx(args.model)
    key16 = read_manifest()[f"{args.model}.fp16"]["sha256"][:16]
    cuda = "CPUExecutionProvider" if dry else ("CUDAExecutionProvider", gpu.cuda_provider_options(args.device))
    chain = [cuda] if dry else [cuda, "CPUExecutionProvider"]
    where = "the CPU (dry run)" if dry else device_name(args.device)
    print(f"# vsvfi GPU check: {args.model} on {where}, onnxruntime {ort.__version__}\n")
    print(f"fp16 graph: {path16.name}, float32 islands: {', '.join(sorted(gpu.fp32_islands(path16)))}")
    print(f"TensorRT cache: {gpu.trt_cache_dir()}\n")

    placement = {}
    for label, path in () if dry else (("fp32", path32), ("fp16", path16)):
        try:
            make_session(path, [cuda], no_cpu_fallback=True)
            placement[label] = "every node on CUDA"
        except Exception as exc:
            placement[label] = f"some nodes need the CPU: {str(exc).splitlines()[0][:160]}"
        print(f"CUDA {label} placement: {placement[label]}")
    print()

    rows = []
    for size in args.sizes:
        w, h = (int(v) for v in size.lower().split("x"))
        a, b, origin = frames(w, h)
        feed = feed_for(a, b, spec.pad_for(1.0))
        _, _, ph, pw = feed["img0"].shape
        t0 = time.perf_counter()
        ref = make_session(path32, ["CPUExecutionProvider"]).run(None, feed)[0][0, :, :h, :w]
        print(f"{w}x{h} (padded {pw}x{ph}), frames: {origin}; CPU fp32 reference in {time.perf_counter() - t0:.1f} s")

        variants = {}
        s32 = make_session(path32, chain)
        variants["CUDA fp32, session.run"] = (s32.get_providers()[0], lambda s=s32: s.run(None, feed)[0], 1)
        r32 = gpu.BoundRunner(s32)
        variants["CUDA fp32, IO binding"] = (s32.get_providers()[0], lambda r=r32: r.run(feed)[0], 1)
        s16 = make_session(path16, chain)
        r16 = gpu.BoundRunner(s16)
        variants["CUDA fp16, IO binding"] = (s16.get_providers()[0], lambda r=r16: r.run(feed)[0], 1)
        s16b = make_session(path16, chain)
        pair = (r16, gpu.BoundRunner(s16b))

        def two_sessions(pair=pair):
            out = [None, None]

            def go(k):
                out[k] = pair[k].run(feed)[0]
            ts = [threading.Thread(target=go, args=(k,)) for k in (0, 1)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return out[0]
        variants["CUDA fp16, 2 sessions x 2 threads"] = (s16b.get_providers()[0], two_sessions, 2)
        if not (args.no_trt or dry):
            lo, opt, hi = gpu.trt_profile(ph, pw)
            for flag in (False, True):
                label = "TensorRT fp16 graph" + (", trt_fp16_enable" if flag else "")
                try:
                    opts = gpu.tensorrt_provider_options(args.device, None, lo, opt, hi, engine_key=key16,
                                                         fp16_flag=flag)
                    trt = ("TensorrtExecutionProvider", opts)
                    t0 = time.perf_counter()
                    st = make_session(path16, [trt, cuda, "CPUExecutionProvider"])
                    rt = gpu.BoundRunner(st)
                    rt.run(feed)  # builds (or loads) the engine
                    print(f"  {label}: session + first run {time.perf_counter() - t0:.1f} s on {st.get_providers()[0]}")
                    variants[label] = (st.get_providers()[0], lambda r=rt: r.run(feed)[0], 1)
                    break
                except Exception as exc:
                    print(f"  {label}: failed: {str(exc).splitlines()[0][:300]}")
                    traceback.print_exc(limit=1)

        for label, (ep, fn, frames_per_call) in variants.items():
            try:
                out = fn()[0, :, :h, :w].astype(np.float32)
                err = np.abs(out - ref)
                fps = timed(fn, args.runs, 1 if dry else 3) * frames_per_call
                rows.append((f"{w}x{h}", label, ep, f"{fps:.1f}", f"{1000 / fps:.2f}", f"{err.max():.4f}",
                             f"{err.mean():.2e}"))
            except Exception as exc:
                rows.append((f"{w}x{h}", label, "-", "failed", "-", "-", str(exc).splitlines()[0][:80]))
        print()

    print("| size | variant | runs on | frames/s | ms/frame | max abs diff vs CPU fp32 | mean abs diff |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\nfps: median of {1 if dry else 3} rounds of {args.runs} calls after 3 warm-up calls; timestep 0.5, "
          "scale 1; fp16 rows include the host float32 -> float16 conversion of the inputs.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

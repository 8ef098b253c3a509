"""Static-shape sessions (vsvfi.runtime.graphs.static_model + fix_dimensions) against the dynamic graph
on ONNX Runtime's CPU EP: node count after ORT's optimisations, output difference and time
per frame (median of interleaved runs). Prints a markdown table (docs/gpu.md, "Static-shape
sessions"); GPU numbers come from scripts/gpu_check.py.

    .venv/bin/python scripts/bench_static_shapes.py [--model rife46] [--size 640x272]
                                                    [--precision fp32] [--runs 7]
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="rife46")
    ap.add_argument("--size", default="640x272")
    ap.add_argument("--precision", choices=["fp32", "fp16"], default="fp32")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    import onnx
    import onnxruntime as ort

    from vsvfi.runtime import fp16, graphs
    from vsvfi.runtime import pad_batch
    from vsvfi.models import MODELS, verified_onnx
    sys.path.insert(0, str(ROOT / "scripts"))
    from gpu_check import real_frames

    path = verified_onnx(args.model)[0] if args.precision == "fp32" else fp16.fp16_onnx(args.model)
    w, h = (int(v) for v in args.size.split("x"))
    (a, b), origin = real_frames(w, h, (60, 61))
    dtype = np.float32 if args.precision == "fp32" else np.float16
    pad = MODELS[args.model].pad_for(1.0)
    feed = {"img0": pad_batch(a, pad, "edge", dtype), "img1": pad_batch(b, pad, "edge", dtype),
            "timestep": np.full((1, 1, 1, 1), 0.5, dtype), "scale": np.ones(1, np.float32)}
    n, _, ph, pw = feed["img0"].shape
    proto = onnx.load(str(path))

    def session(static: bool, level, out: str | None = None):
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.graph_optimization_level = level
        if out:
            so.optimized_model_filepath = out
        data = proto
        if static:
            graphs.fix_dimensions(so, n, ph, pw)
            data = graphs.static_model(proto, 1.0)
        return ort.InferenceSession(data.SerializeToString(), so, providers=["CPUExecutionProvider"])

    variants = {"dynamic (one session for every size)": False, "static shapes and scale": True}
    rows, outs, sessions = [], {}, {}
    tmp = Path(tempfile.mkdtemp())
    for label, static in variants.items():
        out = str(tmp / f"{int(static)}.onnx")
        session(static, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, out)
        ops = collections.Counter(n.op_type for n in onnx.load(out).graph.node)
        shape_ops = sum(ops[o] for o in ("Shape", "Gather", "Unsqueeze", "ConstantOfShape", "CumSum", "Reshape"))
        s = sessions[label] = session(static, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        names = {i.name for i in s.get_inputs()}
        outs[label] = s.run(None, {k: v for k, v in feed.items() if k in names})[0].astype(np.float32)
        rows.append([label, sum(ops.values()), shape_ops])
    times = {label: [] for label in variants}
    for _ in range(args.runs):
        for label, s in sessions.items():
            names = {i.name for i in s.get_inputs()}
            f = {k: v for k, v in feed.items() if k in names}
            t0 = time.perf_counter()
            s.run(None, f)
            times[label].append(time.perf_counter() - t0)
    ref = outs[next(iter(variants))]
    print(f"{args.model} {args.precision}, {origin} 60/61 at {w}x{h} (padded {pw}x{ph}), CPU EP\n")
    print("| graph | nodes after basic optimisation | shape nodes | ms per frame | max diff vs dynamic |")
    print("|---|---|---|---|---|")
    for label, nodes, shape_ops in rows:
        print(f"| {label} | {nodes} | {shape_ops} | {1e3 * statistics.median(times[label]):.1f} | "
              f"{float(np.abs(outs[label] - ref).max()):.1e} |")
    print(f"\nmedian of {args.runs} interleaved runs; shape nodes: Shape, Gather, Unsqueeze, ConstantOfShape, "
          "CumSum, Reshape.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scale-out on Ray measured on this machine: the same render single-process, on 1 worker
with 2 threads and on 2 workers with 1 thread each (same total threads), interleaved; the
fixed costs around the chunks (bestsource indexing, Ray start, x264 start, the join); and
what indexing costs per source frame. Writes docs/scale-out-benchmark.md.

    .venv/bin/python scripts/bench_scaleout.py [--rounds 2] [--chunk-seconds 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vsvfi import assets  # noqa: E402
from vsvfi.scaleout import Chunk, Job, Settings, join, render_all  # noqa: E402

CLI = [sys.executable, "-m", "vsvfi.cli"]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return time.perf_counter() - t0


def renders(src: str, rounds: int, chunk_seconds: float, tmp: Path) -> dict[str, list[float]]:
    """Wall seconds of each way of rendering ``src`` at 2x, interleaved over ``rounds``."""
    ways = {
        "single process, 2 threads": ["--threads", "2"],
        "Ray, 1 worker x 2 threads": ["--workers", "1", "--threads", "2"],
        "Ray, 2 workers x 1 thread": ["--workers", "2", "--threads", "1"],
    }
    out = {k: [] for k in ways}
    for r in range(rounds):
        for k, extra in ways.items():
            dst = tmp / f"out_{r}_{len(out[k])}.mkv"
            work = ["--work-dir", str(tmp / "work")] if "--workers" in extra else []
            out[k].append(timed([*CLI, src, "-o", str(dst), "--no-progress", "--chunk-seconds", str(chunk_seconds),
                                 *work, *extra]))
            dst.unlink()
    return out


def fixed_costs(src: str, tmp: Path) -> dict[str, float]:
    """Seconds of the per-job and per-chunk costs that are not rendering."""
    import vapoursynth as vs

    costs = {}
    t0 = time.perf_counter()
    clip = vs.core.bs.VideoSource(src, cachemode=4, cachepath=str(tmp / "idx"))
    costs["bestsource index, first open"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    vs.core.bs.VideoSource(src, cachemode=4, cachepath=str(tmp / "idx"))
    costs["bestsource open with the index"] = time.perf_counter() - t0
    os.environ.setdefault("RAY_AUTH_MODE", "token")  # as vsvfi's local clusters (read when Ray is imported)
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             logging_level="ERROR")
    ray.get(ray.remote(lambda: 1).remote())
    ray.shutdown()
    costs["Ray local cluster start, one task, shutdown"] = time.perf_counter() - t0
    y4m = tmp / "one.y4m"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=size={clip.width}x{clip.height}",
                    "-frames:v", "1", str(y4m)], check=True)
    t0 = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(y4m), "-c:v", "libx264", "-crf", "18", str(tmp / "one.mkv")],
                   check=True)
    costs["ffmpeg + x264 start and one frame"] = time.perf_counter() - t0
    # a chunk's own fixed cost: open the source, build the filter, load the model, 2 frames
    work = tmp / "chunkwork"
    work.mkdir()
    job = Job(src, str(tmp / "idx"), 0, clip.num_frames, {"ratio": 2}, 18, "medium", False, 2, str(work))
    t0 = time.perf_counter()
    render_all(job, [Chunk(0, 0, 2)], Settings(1, None, 60, False, str(work)), gpu=False)
    costs["Ray: a 2-frame chunk end to end (start, open, model, encode)"] = time.perf_counter() - t0
    chunks = [Chunk(0, 0, 2)]
    t0 = time.perf_counter()
    join(job, chunks, tmp / "joined.mkv", [], 0.0)
    costs["join (concat demuxer, audio mux) of one chunk"] = time.perf_counter() - t0
    return costs


def index_rate(tmp: Path) -> list[tuple[str, int, float]]:
    """(clip, frames, seconds to build bestsource's index) for the sample clips."""
    import vapoursynth as vs

    out = []
    for stem in ("bikes", "bigbuckbunny", "carphone_pristine"):
        path = str(assets.fetch(assets.SAMPLES[stem]))
        t0 = time.perf_counter()
        clip = vs.core.bs.VideoSource(path, cachemode=4, cachepath=str(tmp / f"idx_{stem}"))
        out.append((f"{stem} {clip.width}x{clip.height}", clip.num_frames, time.perf_counter() - t0))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--chunk-seconds", type=float, default=2.0)
    ap.add_argument("--out", default=str(ROOT / "docs" / "scale-out-benchmark.md"))
    args = ap.parse_args()
    src = str(assets.fetch(assets.SAMPLES["bikes"]))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        times = renders(src, args.rounds, args.chunk_seconds, tmp)
        costs = fixed_costs(src, tmp)
        index = index_rate(tmp)
    base = statistics.median(times["single process, 2 threads"])
    lines = [
        "# Scale-out benchmark",
        "",
        f"Generated by `.venv/bin/python scripts/bench_scaleout.py --rounds {args.rounds} --chunk-seconds "
        f"{args.chunk_seconds:g}` on {time.strftime('%Y-%m-%d')} ({platform.machine()}, {os.cpu_count()} logical "
        "cores, no GPU; ONNX Runtime CPU EP). How it works and how to run it on several machines: "
        "[scale-out.md](scale-out.md).",
        "",
        f"## bikes (640x272, 250 frames) at 2x, chunks of {args.chunk_seconds:g} s, {args.rounds} interleaved rounds",
        "",
        "| how | wall seconds (each round) | median | vs single process |",
        "|---|---|---|---|",
    ]
    for k, v in times.items():
        m = statistics.median(v)
        lines.append(f"| {k} | {', '.join(f'{x:.1f}' for x in v)} | {m:.1f} | {base / m:.2f}x |")
    lines += ["", "## Fixed costs (seconds)", "", "| what | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in costs.items()]
    per_chunk = costs["Ray: a 2-frame chunk end to end (start, open, model, encode)"] - \
        costs["Ray local cluster start, one task, shutdown"]
    out_frames = 500  # bikes at 2x
    chunk_render = 60 * 50 * base / out_frames  # a 60 s chunk of 50 fps output at the single-process speed
    lines += ["", f"Per chunk (a 2-frame chunk minus the cluster start): about {per_chunk:.2f} s: the task, opening "
              "the source with its index, building the filter and loading the model, the encoder. A 60 s chunk of "
              f"this 50 fps output takes about {chunk_render:.0f} s to render here, so that is "
              f"{100 * per_chunk / chunk_render:.1f} % of it; with the {args.chunk_seconds:g} s chunks above it is "
              f"{100 * per_chunk / (chunk_render * args.chunk_seconds / 60):.0f} %, plus the cluster start once per job."]
    lines += ["", "## bestsource indexing (first open of a file; decodes it once)", "",
              "| clip | frames | seconds | ms per frame | a 2-hour 24 fps film (172,800 frames) at that rate |",
              "|---|---|---|---|---|"]
    for name, n, s in index:
        lines.append(f"| {name} | {n} | {s:.2f} | {1000 * s / n:.2f} | {172_800 * s / n / 60:.1f} min |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

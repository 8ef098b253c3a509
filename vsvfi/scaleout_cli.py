"""``vsvfi INPUT -o OUTPUT --workers N | --ray-address ADDR``: the command line's Ray path
(:mod:`vsvfi.scaleout` does the work). Same input handling, rate rules and output
guarantees as the single-process path: written under a temporary name and renamed on
success; the chunks stay in the work directory until then, so a rerun resumes."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .cli_input import CliError, cli_words, open_input, progress_bar, rate_args, section, timing_args
from .scaleout import Job, ScaleOutError, Settings, join, open_source, output_clip, plan, render_all, work_key


def _settings(args) -> Settings:
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be >= 1, got {args.workers}")
    if not args.chunk_seconds > 0:
        raise CliError(f"--chunk-seconds must be > 0, got {args.chunk_seconds}")
    return Settings(args.workers, args.ray_address, args.chunk_seconds, args.intermediate == "lossless", args.work_dir)


def _options(args, rates: dict, threads: int) -> dict:
    """Interpolate's arguments for every chunk; ONNX Runtime gets the task's threads (frames
    do not depend on thread counts: docs/reliability.md, "Determinism")."""
    return dict(rates, model=args.model, provider=args.provider, scene_change=not args.no_scene_change,
                sc_threshold=args.sc_threshold, scale=args.scale, ensemble=args.ensemble,
                protect_static=not args.no_protect_static, num_streams=args.streams, ort_threads=threads)


def _uses_gpu(provider: str) -> bool:
    if provider in ("cuda", "tensorrt"):
        return True
    from .runtime.providers import cuda_device_count

    return provider == "auto" and cuda_device_count() > 0


def _clean(work: Path, default_dir: bool) -> None:
    """Remove what this job wrote into ``work`` (and ``work`` itself when it is the default
    one under the cache directory)."""
    for p in work.iterdir():
        if p.name.startswith(("chunk_", "source.")) or p.name == "concat.txt":
            p.unlink(missing_ok=True)
    if default_dir and not any(work.iterdir()):
        work.rmdir()


def run_scaled(args, src: Path, dst: Path, ffmpeg: str) -> int:
    from .assets import cache_dir

    settings = _settings(args)
    threads = args.threads or (max(1, (os.cpu_count() or 1) // settings.workers) if settings.workers else 2)
    key = work_key(src, {k: getattr(args, k) for k in ("ratio", "fps", "model", "provider", "no_scene_change",
                                                        "sc_threshold", "scale", "ensemble", "no_protect_static",
                                                        "streams", "crf", "preset", "intermediate", "chunk_seconds",
                                                        "start", "end")})
    work = Path(settings.work_dir) / key if settings.work_dir else cache_dir() / "scaleout" / key
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    whole, times = open_input(src, index=str(work / "source"))  # indexed once, on the shared storage
    indexed = time.perf_counter() - t0
    first, count = section(times, whole.num_frames, args.start, args.end)
    rates = rate_args(args, whole, times, first, count)
    job = Job(str(src.resolve()), str(work / "source"), first, count, _options(args, rates, threads), args.crf, args.preset,
              settings.lossless, threads, str(work), ffmpeg)
    import vapoursynth as vs

    try:
        source = open_source(job)  # opened once here for the output clip and the plan
        out = output_clip(job, source)
        chunks = plan(source, job.options, settings.chunk_seconds, snap=True)
    except vs.Error as e:
        raise CliError(cli_words(str(e))) from None
    except ScaleOutError as e:
        raise CliError(str(e)) from None
    print(f"vsvfi: {len(chunks)} chunks of about {settings.chunk_seconds:g} s; input indexed in {indexed:.1f} s; "
          f"work directory {work}", file=sys.stderr)
    tmp = dst.with_name(f".{dst.stem}.vsvfi-partial{dst.suffix}")
    bar = progress_bar(out.num_frames, not args.no_progress)
    ok = False
    try:
        done = render_all(job, chunks, settings, _uses_gpu(args.provider), bar)
        offset, audio = timing_args(times, first, count)
        join(job, chunks, tmp, audio, offset)
        if dst.exists() and not args.overwrite:  # it appeared while we were rendering
            raise CliError(f"output {dst} appeared during the render; pass --overwrite to replace it")
        os.replace(tmp, dst)
        ok = True
    except ScaleOutError as e:
        raise CliError(str(e)) from None
    finally:
        if bar is not None:
            bar.close()
        if not ok:
            tmp.unlink(missing_ok=True)
    _clean(work, default_dir=not settings.work_dir)
    dt = time.perf_counter() - t0
    print(f"vsvfi: wrote {dst}: {count} -> {out.num_frames} frames, {whole.fps} -> {out.fps} fps; {len(chunks)} chunks "
          f"({done['rendered']} rendered, {done['reused']} reused) on {done['workers']} Ray CPU slots, {dt:.1f} s")
    return 0

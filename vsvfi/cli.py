"""vsvfi command line: interpolate a video file into another, audio copied.

    vsvfi INPUT -o OUTPUT [--ratio R | --fps F] [--model M] [--crf N] [--start T] [--end T]
    vsvfi models fetch [--model M ...] [--all] [--force] | vsvfi models list
    vsvfi evaluate [VIDEO|DIR ...] [--samples] [--k 2 4 8] [--methods M,...] [--frames N]
                   [--json P] [--markdown P] [--strips DIR] [--no-ssim] [--no-flip]

Decodes with bestsource, interpolates with :func:`vsvfi.Interpolate`, encodes H.264 with
ffmpeg (libx264) and copies the input's audio streams. The output is written to a
temporary file beside OUTPUT and renamed only on success; on an error, Ctrl-C (SIGINT) or
SIGTERM nothing is left under the final name (an existing OUTPUT given with --overwrite is
kept as it was), the temporary file is removed and the exit status is non-zero (130 when
interrupted).

``vsvfi models`` fetches (exports) and lists the ONNX models (:mod:`vsvfi.model_cli`).
``vsvfi evaluate`` runs the frame-dropping quality protocol of :mod:`vsvfi.evaluate`
(vsvfi models against baselines and peers); an input file literally named ``evaluate``
needs a path prefix (``./evaluate``), as does one named ``models``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .cli_input import CliError, cli_words, open_input, progress_bar, rate_args, section, timing_args

EXIT_USAGE, EXIT_FAIL, EXIT_INTERRUPTED = 2, 1, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the usage block
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _scale(text: str):
    """``--scale``: "auto" or a number (argparse then checks it against the choices)."""
    return text if text == "auto" else float(text)


def _position(text: str) -> tuple[str, float]:
    """``--start``/``--end``: ("frame", n) for "120f", ("time", seconds) for "12.5",
    "12.5s", "1:02.5" or "1:00:02.5"."""
    m = re.fullmatch(r"\s*(\d+)\s*f\s*", text)
    if m:
        return "frame", int(m.group(1))
    parts = text.strip().removesuffix("s").split(":")
    try:
        if len(parts) > 3 or not all(parts):
            raise ValueError
        values = [float(x) for x in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a source time (seconds, e.g. 12.5, 1:02.5) or a frame "
                                         "number (e.g. 300f)") from None
    seconds = sum(v * 60 ** k for k, v in enumerate(reversed(values)))
    if not math.isfinite(seconds) or seconds < 0 or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not a time >= 0")
    return "time", seconds


def _version() -> str:
    """vsvfi's version and those of the libraries it runs on (from the installed metadata)."""
    from importlib import metadata

    from . import __version__

    found = []
    for dist in ("vapoursynth", "onnxruntime-gpu", "onnxruntime"):
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return f"vsvfi {__version__}" + (f" ({', '.join(found)})" if found else "")


def _parser() -> argparse.ArgumentParser:
    from .filter import SC_THRESHOLD
    from .models import FAMILY, MODELS, SCALES

    p = _Parser(prog="vsvfi", description="Interpolate a video to a higher frame rate (RIFE on ONNX Runtime).",
                epilog="Models: vsvfi models --help. Quality evaluation against baselines and other interpolators: "
                       "vsvfi evaluate --help")
    p.add_argument("input", help="input video file (anything bestsource/FFmpeg decodes)")
    p.add_argument("-o", "--output", required=True, help="output file (.mp4, .mkv, ...)")
    p.add_argument("--version", action="version", version=_version())
    p.add_argument("--start", type=_position, metavar="T",
                   help="first source time to render, in seconds (12.5, 1:02.5) or as a frame number (300f); "
                        "for trial runs (default: the beginning)")
    p.add_argument("--end", type=_position, metavar="T",
                   help="source time or frame (300f) where rendering stops, not included (default: the end)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--ratio", help="output fps / input fps, e.g. 2, 2.5 or 5/2 (default 2); on a variable-frame-rate "
                                    "input, the standard rate nearest ratio x its peak rate")
    g.add_argument("--fps", help="target frame rate, e.g. 60 or 60000/1001")
    p.add_argument("--model", default="rife46", choices=[*sorted(MODELS), *FAMILY], metavar="MODEL",
                   help=f"network: {', '.join(sorted(MODELS))} (default rife46), or an imported RIFE 4.x version "
                        "(rife4.0 ... rife4.26.heavy: vsvfi models list)")
    p.add_argument("--scale", type=_scale, default=1.0, choices=("auto", *SCALES),
                   help="optical-flow resolution relative to the frame: auto (per pair, from the measured motion), "
                        "0.25, 0.5, 1, 2 (default 1; 0.5 for very large motion or 4K)")
    p.add_argument("--ensemble", action="store_true", help="also run the time-reversed pair and average (2x slower)")
    p.add_argument("--no-protect-static", action="store_true",
                   help="let the network move static subtitles/logos too (protection is on by default)")
    p.add_argument("--crf", type=int, default=18, help="x264 CRF quality, 0-51, lower is better (default 18)")
    p.add_argument("--preset", default="medium", help="x264 preset (default medium)")
    p.add_argument("--provider", default="auto", help="ONNX Runtime provider: auto, cpu, cuda, tensorrt")
    p.add_argument("--no-scene-change", action="store_true", help="interpolate across scene changes too")
    p.add_argument("--sc-threshold", type=float, default=SC_THRESHOLD, help=f"scene-change threshold 0..1 (default {SC_THRESHOLD})")
    p.add_argument("--threads", type=int, default=0,
                   help="VapourSynth threads, i.e. frames computed at once (default: VapourSynth's, one per core; "
                        "with --workers N, threads per worker: cores / N; on a cluster 2)")
    p.add_argument("--streams", type=int, default=1, help="ONNX Runtime sessions used in turn, 1-16 (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    r = p.add_argument_group("scale-out on Ray (vsvfi[ray]; docs/scale-out.md)")
    r.add_argument("--workers", type=int, metavar="N", help="render in chunks on a local Ray cluster of N workers")
    r.add_argument("--ray-address", metavar="ADDR", help="render on an existing Ray cluster (an address, or auto)")
    r.add_argument("--chunk-seconds", type=float, default=60.0,
                   help="output seconds per chunk, moved to a scene cut within 2 s when there is one (default 60)")
    r.add_argument("--intermediate", choices=("final", "lossless"), default="final",
                   help="chunks encoded with the final settings (default) or lossless (FFV1), encoded once when joined")
    r.add_argument("--work-dir", metavar="DIR",
                   help="where chunks go (shared storage for several machines; default: the cache directory)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise CliError("ffmpeg was not found on PATH; install it (Debian: apt-get install ffmpeg)")
    return exe


def _vs_message(e: Exception) -> str:
    """The one line of a VapourSynth error that says what went wrong: a frame error carries
    the Python traceback of the failing callback, and its last line is the message."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if not lines:
        return "VapourSynth error"
    if lines[0].startswith("Traceback"):
        return lines[-1].removeprefix("vapoursynth.Error: ")
    return lines[0]


def _checked_paths(args) -> tuple[Path, Path]:
    """(input, output) paths, or a CliError for a missing input, an output that exists (no
    --overwrite), is a directory or cannot be written, or a bad --crf/--threads."""
    src, dst = Path(args.input), Path(args.output)
    if not src.is_file():
        raise CliError(f"input file not found: {src}")
    if dst.is_dir():
        raise CliError(f"output {dst} is a directory; give a file name such as {dst / 'out.mp4'}")
    if dst.exists() and not args.overwrite:
        raise CliError(f"output {dst} exists; pass --overwrite to replace it")
    if not 0 <= args.crf <= 51:
        raise CliError(f"--crf must be in 0..51, got {args.crf}")
    if args.threads < 0:
        raise CliError(f"--threads must be >= 0, got {args.threads}")
    if not dst.parent.is_dir():
        raise CliError(f"output directory {dst.parent} does not exist")
    if not os.access(dst.parent, os.W_OK):
        raise CliError(f"cannot write {dst}: no write permission in {dst.parent}")
    return src, dst


def run(args) -> int:
    import vapoursynth as vs

    from . import Interpolate
    from .colour import y4m_ready

    src, dst = _checked_paths(args)
    ffmpeg = _ffmpeg()
    if args.workers is not None or args.ray_address:
        from .scaleout_cli import run_scaled

        return run_scaled(args, src, dst, ffmpeg)
    if args.threads:
        vs.core.num_threads = args.threads
    whole, times = open_input(src)
    first, count = section(times, whole.num_frames, args.start, args.end)
    rates = rate_args(args, whole, times, first, count)
    clip = whole if count == whole.num_frames else whole[first:first + count]
    try:
        out = Interpolate(clip, **rates, model=args.model, provider=args.provider,
                          scene_change=not args.no_scene_change, sc_threshold=args.sc_threshold,
                          scale=args.scale, ensemble=args.ensemble, protect_static=not args.no_protect_static,
                          num_streams=args.streams)
    except vs.Error as e:
        raise CliError(cli_words(str(e))) from None
    enc = y4m_ready(out)
    tmp = dst.with_name(f".{dst.stem}.vsvfi-partial{dst.suffix}")
    offset, audio = timing_args(times, first, count)
    video = ["-itsoffset", f"{offset:.6f}"] if offset else []
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           *video, "-f", "yuv4mpegpipe", "-i", "-", *audio, "-i", str(src),
           "-map", "0:v:0", "-map", "1:a?", "-fps_mode:v", "passthrough",  # keep the frames' own times
           "-c:v", "libx264", "-crf", str(args.crf), "-preset", args.preset, "-c:a", "copy", str(tmp)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    bar = progress_bar(out.num_frames, not args.no_progress)
    ok = False
    try:

        def progress(done, total):
            if bar is not None:
                bar.update(done - bar.n)

        try:
            enc.output(proc.stdin, y4m=True, progress_update=progress)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        except vs.Error as e:
            raise CliError(f"interpolation failed: {cli_words(_vs_message(e))}") from None
        err = proc.stderr.read().decode(errors="replace").strip().replace(str(tmp), str(dst))
        if proc.wait() != 0:
            raise CliError(f"ffmpeg failed: {err.splitlines()[-1] if err else 'exit status %d' % proc.returncode}")
        if dst.exists() and not args.overwrite:  # it appeared while we were encoding
            raise CliError(f"output {dst} appeared during the encode; pass --overwrite to replace it")
        os.replace(tmp, dst)
        ok = True
    finally:
        if bar is not None:
            bar.close()
        if not ok:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            tmp.unlink(missing_ok=True)
    dt = time.perf_counter() - t0
    part = f"source frames {first}..{first + count - 1}: " if count != whole.num_frames else ""
    print(f"vsvfi: wrote {dst}: {part}{clip.num_frames} -> {out.num_frames} frames, {clip.fps} -> {out.fps} fps "
          f"({float(out.fps):.3f}), {dt:.1f} s ({out.num_frames / dt:.1f} frames/s)")
    return 0


def _k_value(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        k = None
    if k is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 2 (inputs go before --k)")
    if k < 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 2")
    return k


def _evaluate_parser() -> argparse.ArgumentParser:
    from .evaluate import ALIGN_DB, BASELINES, PEERS
    from .models import MODELS

    p = _Parser(prog="vsvfi evaluate",
                description="Frame-dropping quality evaluation: keep every k-th frame, interpolate back with each "
                            "method, score the synthesized frames against the dropped originals (PSNR, SSIM and FLIP on "
                            "RGB24), and time each method. Pairs across scene cuts are not scored.",
                epilog=f"Methods: vsvfi models ({', '.join(MODELS)}), optionally with Interpolate options as "
                       f"model:key=value[:key=value] (e.g. rife46:scale=0.5); baselines {', '.join(BASELINES)}; "
                       f"peers {', '.join(PEERS)}. A method whose output at the kept positions is below "
                       f"{ALIGN_DB:g} dB from the kept frames is reported as misaligned, without scores.")
    p.add_argument("inputs", nargs="*", metavar="VIDEO|DIR",
                   help="video files, or directories of PNG triplets (Vimeo-90K im1/im2/im3.png, Middlebury "
                        "frame10/frame10i11/frame11.png; scored at k=2)")
    p.add_argument("--samples", action="store_true", help="add the three sample clips (bikes, bigbuckbunny, "
                                                          "carphone_pristine)")
    p.add_argument("--k", nargs="+", type=_k_value, default=None, metavar="K",
                   help="keep every k-th frame, for each K given (default 2 4 8)")
    p.add_argument("--methods", help="comma-separated methods (default: every method that runs here)")
    p.add_argument("--frames", type=int, metavar="N",
                   help="first N frames of each video (first N triplets of each directory)")
    p.add_argument("--ssim", action=argparse.BooleanOptionalAction, default=True,
                   help="compute SSIM (default on; slow on large frames)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                   help="compute NVIDIA's FLIP perceptual difference (default on; about 0.1 s per frame at "
                        "640x272, 0.5 s at 1280x720)")
    p.add_argument("--provider", default="auto", help="ONNX Runtime provider for vsvfi methods (default auto)")
    p.add_argument("--json", metavar="PATH", help="write all results, per-frame values included, as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write the tables, command, machine and versions as Markdown")
    p.add_argument("--strips", metavar="DIR", help="write one labelled PNG image strip per source into DIR")
    p.add_argument("--list-methods", action="store_true", help="list methods and whether each can run here, then exit")
    return p


def run_evaluate(argv: list[str]) -> int:
    import shlex

    import vapoursynth as vs

    from . import evaluate as ev

    args = _evaluate_parser().parse_args(argv)
    if args.list_methods:
        for name, why in ev.availability().items():
            print(f"{name:14s} {'ok' if why is None else why}")
        return 0
    if args.frames is not None and args.frames < 3:
        raise CliError(f"--frames must be at least 3, got {args.frames}")
    methods = None
    if args.methods is not None:
        methods = [m for m in args.methods.split(",") if m.strip()]
        if not methods:
            raise CliError("--methods is empty")
    # output locations are checked before the (long) run, not after it
    for path, is_dir in ((args.json, False), (args.markdown, False), (args.strips, True)):
        if not path:
            continue
        target = Path(path)
        if not is_dir and target.is_dir():
            raise CliError(f"{path} is a directory; give a file name")
        folder = target if is_dir else target.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CliError(f"cannot create {folder}: {e.strerror or e}") from None
        if not os.access(folder, os.W_OK):
            raise CliError(f"{folder} is not writable")

    def log(msg):
        print(f"vsvfi evaluate: {msg}", file=sys.stderr, flush=True)

    try:
        report = ev.run(args.inputs, samples=args.samples, ks=args.k or ev.DEFAULT_K, methods=methods,
                        frames=args.frames, ssim=args.ssim, flip=args.flip, provider=args.provider,
                        strips=bool(args.strips),
                        command=shlex.join(["vsvfi", "evaluate", *argv]), log=log)
        print(ev.format_table(report), end="")
        ev.write_outputs(report, args.json, args.markdown, args.strips)
    except ev.EvaluateError as e:
        raise CliError(str(e)) from None
    except vs.Error as e:
        raise CliError(str(e).splitlines()[0] if str(e) else "VapourSynth error") from None
    failed = [f"{r.source} k={r.k} {label}" for r in report.results for label, m in r.methods.items() if m.errors]
    if failed:
        log(f"{len(failed)} method runs failed: {', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}")
        return EXIT_FAIL
    return 0


def _run_models(argv: list[str]) -> int:
    from . import model_cli

    try:
        return model_cli.run(argv, _Parser)
    except model_cli.ModelsError as e:
        raise CliError(str(e)) from None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["evaluate"]:
        prog, job, stopped = "vsvfi evaluate", lambda: run_evaluate(argv[1:]), "interrupted"
    elif argv[:1] == ["models"]:
        prog, job, stopped = "vsvfi models", lambda: _run_models(argv[1:]), "interrupted"
    else:
        args = _parser().parse_args(argv)
        prog, job, stopped = "vsvfi", lambda: run(args), "interrupted; no output written"
    old_term = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (kill, a closing terminal, a batch system) cleans up like Ctrl-C does
        old_term = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return job()
    except CliError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print(f"{prog}: {stopped}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (vsvfi models list | head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())

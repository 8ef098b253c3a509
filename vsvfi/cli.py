"""vsvfi command line: interpolate a video file into another, audio copied.

    vsvfi INPUT -o OUTPUT [--ratio R | --fps F] [--model M] [--crf N]

Decodes with bestsource, interpolates with :func:`vsvfi.Interpolate`, encodes H.264 with
ffmpeg (libx264) and copies the input's audio streams. The output is written to a
temporary file beside OUTPUT and renamed only on success; on an error or Ctrl-C nothing is
left under the final name and the exit status is non-zero.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

EXIT_USAGE, EXIT_FAIL, EXIT_INTERRUPTED = 2, 1, 130


class CliError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the usage block
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from .filter import SC_THRESHOLD
    from .models import MODELS

    p = _Parser(prog="vsvfi", description="Interpolate a video to a higher frame rate (RIFE on ONNX Runtime).")
    p.add_argument("input", help="input video file (anything bestsource/FFmpeg decodes)")
    p.add_argument("-o", "--output", required=True, help="output file (.mp4, .mkv, ...)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--ratio", help="output fps / input fps, e.g. 2, 2.5 or 5/2 (default 2)")
    g.add_argument("--fps", help="target frame rate, e.g. 60 or 60000/1001")
    p.add_argument("--model", default="rife46", choices=sorted(MODELS), help="network (default rife46)")
    p.add_argument("--crf", type=int, default=18, help="x264 CRF quality, 0-51, lower is better (default 18)")
    p.add_argument("--preset", default="medium", help="x264 preset (default medium)")
    p.add_argument("--provider", default="auto", help="ONNX Runtime provider: auto, cpu, cuda, tensorrt")
    p.add_argument("--no-scene-change", action="store_true", help="interpolate across scene changes too")
    p.add_argument("--sc-threshold", type=float, default=SC_THRESHOLD, help=f"scene-change threshold 0..1 (default {SC_THRESHOLD})")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise CliError("ffmpeg was not found on PATH; install it (Debian: apt-get install ffmpeg)")
    return exe


def _encodable(clip):
    """y4m carries YUV and GRAY only: RGB and float clips become YUV 4:4:4."""
    import vapoursynth as vs

    fmt = clip.format
    if fmt.color_family in (vs.YUV, vs.GRAY) and fmt.sample_type == vs.INTEGER:
        return clip
    bits = 8 if fmt.bits_per_sample <= 8 and fmt.sample_type == vs.INTEGER else 16
    target = vs.core.query_video_format(vs.YUV, vs.INTEGER, bits, 0, 0)
    return vs.core.resize.Bicubic(clip, format=target.id, matrix_s="709")


def run(args) -> int:
    import vapoursynth as vs

    from . import Interpolate

    src, dst = Path(args.input), Path(args.output)
    if not src.is_file():
        raise CliError(f"input file not found: {src}")
    if dst.exists() and not args.overwrite:
        raise CliError(f"output {dst} exists; pass --overwrite to replace it")
    if not 0 <= args.crf <= 51:
        raise CliError(f"--crf must be in 0..51, got {args.crf}")
    if not dst.parent.is_dir():
        raise CliError(f"output directory {dst.parent} does not exist")
    ffmpeg = _ffmpeg()
    core = vs.core
    try:
        clip = core.bs.VideoSource(str(src))
    except vs.Error as e:
        raise CliError(f"cannot decode {src}: {str(e).splitlines()[0]}") from None
    try:
        out = Interpolate(clip, ratio=args.ratio, fps=args.fps, model=args.model, provider=args.provider,
                          scene_change=not args.no_scene_change, sc_threshold=args.sc_threshold)
    except vs.Error as e:
        raise CliError(str(e)) from None
    if out.fps == 0:
        raise CliError("the input has a variable frame rate; the CLI needs a constant one")
    enc = _encodable(out)
    tmp = dst.with_name(f".{dst.stem}.vsvfi-partial{dst.suffix}")
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-f", "yuv4mpegpipe", "-i", "-", "-i", str(src),
           "-map", "0:v:0", "-map", "1:a?", "-c:v", "libx264", "-crf", str(args.crf), "-preset", args.preset,
           "-c:a", "copy", str(tmp)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    bar = None
    ok = False
    try:
        if not args.no_progress:
            from tqdm import tqdm

            bar = tqdm(total=out.num_frames, unit="frame", desc="vsvfi", dynamic_ncols=True, file=sys.stderr,
                       mininterval=0.1 if sys.stderr.isatty() else 5.0)

        def progress(done, total):
            if bar is not None:
                bar.update(done - bar.n)

        try:
            enc.output(proc.stdin, y4m=True, progress_update=progress)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        except vs.Error as e:
            raise CliError(f"interpolation failed: {str(e).splitlines()[0]}") from None
        err = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            raise CliError(f"ffmpeg failed: {err.splitlines()[-1] if err else 'exit status %d' % proc.returncode}")
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
    print(f"vsvfi: wrote {dst}: {clip.num_frames} -> {out.num_frames} frames, {clip.fps} -> {out.fps} fps "
          f"({float(out.fps):.3f}), {dt:.1f} s ({out.num_frames / dt:.1f} frames/s)")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except CliError as e:
        print(f"vsvfi: error: {e}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("vsvfi: interrupted; no output written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

"""The input side of the command line, shared by the single-process and the Ray paths:
opening the input with its timestamps, ``--start``/``--end`` sections, the variable-frame-rate
rate rule, ffmpeg timing options, and filter errors reworded for the command line."""

from __future__ import annotations

import bisect
import re
import sys
from fractions import Fraction
from pathlib import Path


class CliError(Exception):
    """A command-line failure; its message is printed as one line."""


#: Interpolate's argument names as this command line spells them (error messages are the
#: filter's, written for .vpy users).
_FLAGS = {"sc_threshold": "--sc-threshold", "num_streams": "--streams", "ratio": "--ratio", "fps": "--fps",
          "model": "--model", "provider": "--provider", "scale": "--scale"}


def cli_words(message: str) -> str:
    """A vsvfi.Interpolate error message phrased for the command line: ``provider='cpu'``
    becomes ``--provider cpu``, VapourSynth-only advice becomes its ffmpeg equivalent."""
    message = message.removeprefix("vsvfi.Interpolate: ")
    message = re.sub(r"\b(\w+)=(?:'([^']*)'|([^\s,;)']+))?",
                     lambda m: (_FLAGS[m.group(1)] + (" " + (m.group(2) or m.group(3)) if m.group(2) or m.group(3)
                                                      else "")) if m.group(1) in _FLAGS else m.group(0), message)
    message = re.sub(r" or '(\w+)'", r" or \1", message)
    name = message.split(" ", 1)[0]
    if name in _FLAGS:  # "sc_threshold must be ..."
        message = _FLAGS[name] + message[len(name):]
    return message.replace("(use core.std.SelectEvery or AssumeFPS to lower it)",
                           "(lower it with ffmpeg first, e.g. -vf fps=24)")


#: Frame times closer than this (seconds) are the same time (timecodes files keep 0.01 ms).
EPS = Fraction(1, 10**6)


def end_time(times: list[Fraction]) -> Fraction:
    """End of the last frame: it lasts as long as the one before it."""
    return times[-1] + (times[-1] - times[-2] if len(times) > 1 else 0)


def section(times: list[Fraction], num_frames: int, start, end) -> tuple[int, int]:
    """(first frame, frame count) of the source between ``--start`` and ``--end`` (values
    from :func:`_position`; times relative to the first frame): a frame is in when its start
    time is at or after start and before end. ``times``: each frame's start (seconds)."""
    def frame(pos, default):
        if pos is None:
            return default
        kind, value = pos
        return int(value) if kind == "frame" else bisect.bisect_left(times, times[0] + Fraction(repr(value)) - EPS)

    first, last = frame(start, 0), min(frame(end, num_frames), num_frames)
    length = f"{num_frames} frames, {float(end_time(times) - times[0]):.3f} s"
    if first >= num_frames:
        raise CliError(f"--start is at or past the end of the input ({length})")
    if last <= first:
        raise CliError(f"--end must come after --start (frames {first} and {last}; the input has {length})")
    return first, last - first


def open_input(src: Path, index: str | None = None):
    """(clip, frame start times in seconds) of the input, decoded by bestsource; the times
    come from its index (a timecodes file), without decoding. ``index``: where bestsource
    keeps its index (a file prefix; default: its own cache)."""
    import tempfile

    import vapoursynth as vs

    from .timing import read_timecodes

    with tempfile.TemporaryDirectory() as tmp:
        tc = Path(tmp) / "timecodes.txt"
        try:
            where = {} if index is None else {"cachemode": 4, "cachepath": index}
            clip = vs.core.bs.VideoSource(str(src), timecodes=str(tc), **where)
        except vs.Error as e:
            raise CliError(f"cannot decode {src}: {str(e).splitlines()[0]}") from None
        try:
            times = read_timecodes(tc)
        except ValueError:
            times = None
    if clip.fps == 0 and not times:
        raise CliError("the input has a variable frame rate and no readable timestamps")
    if times is None or len(times) != clip.num_frames or len(times) < 2:
        times = [Fraction(k * clip.fps.denominator, clip.fps.numerator) for k in range(clip.num_frames)]
    return clip, times


def rate_args(args, clip, times: list[Fraction], first: int, count: int) -> dict:
    """Interpolate's ratio/fps/timestamps for source frames ``first`` .. ``first + count - 1``
    of the input: as given for a constant-rate one; a variable-rate one is written at
    ``--fps`` or at :func:`standard_rate` of ``--ratio`` (default 2) x its :func:`peak_rate`,
    on its own timeline (said in one line)."""
    from .timing import is_variable, peak_rate, standard_rate, to_fraction

    if clip.fps != 0 and not is_variable(times):
        return {"ratio": args.ratio, "fps": args.fps}
    steps = [b - a for a, b in zip(times, times[1:])]
    try:
        ratio = to_fraction(args.ratio, "--ratio") if args.ratio is not None else Fraction(2)
        fps = to_fraction(args.fps, "--fps") if args.fps is not None else standard_rate(ratio * peak_rate(times))
    except ValueError as e:
        raise CliError(str(e)) from None
    print(f"vsvfi: variable frame rate input ({float(1 / max(steps)):.4g} to {float(1 / min(steps)):.4g} fps, "
          f"{len(times)} frames, {float(end_time(times) - times[0]):.3f} s); writing constant {fps} fps "
          f"({float(fps):.3f}) on its timeline", file=sys.stderr)
    return {"fps": fps, "timestamps": [*times, end_time(times)][first:first + count + 1]}


def timing_args(times: list[Fraction], first: int, count: int) -> tuple[float, list[str]]:
    """(video start in seconds, ffmpeg input options for the audio): the video starts where
    the source's first frame does (a start offset is kept); a section starts at 0 with the
    audio cut to it."""
    if count == len(times):
        return float(times[0]), []
    stop = times[first + count] if first + count < len(times) else end_time(times)
    return 0.0, ["-ss", f"{float(times[first] - times[0]):.6f}", "-t", f"{float(stop - times[first]):.6f}"]


def progress_bar(total: int, enabled: bool):
    """A tqdm bar over ``total`` output frames on stderr (None when not ``enabled``): frames,
    frames/s and ETA, redrawn every 0.1 s on a terminal and every 5 s into a log."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="vsvfi", dynamic_ncols=True, file=sys.stderr,
                mininterval=0.1 if sys.stderr.isatty() else 5.0)

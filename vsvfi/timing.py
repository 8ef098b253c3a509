"""Exact rational frame mapping between source and output frames.

Output frame n sits at source position p = n / ratio; i = floor(p) is the left source
frame and t = p - i in [0, 1) the timestep. All arithmetic is on ``fractions.Fraction``,
so NTSC rates map exactly (24000/1001 fps x 5/2 = 60000/1001 fps).
"""

from __future__ import annotations

import bisect
import math
import os
from fractions import Fraction
from numbers import Rational, Real
from pathlib import Path


def to_fraction(value, what: str) -> Fraction:
    """Parse an int, float, Fraction or "num/den" / decimal string into a Fraction.

    Floats are taken at their shortest decimal representation (2.5 -> 5/2,
    59.94 -> 2997/50). Raises ValueError (with ``what`` in the message) for anything
    else, NaN and infinities.
    """
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, not a bool")
    try:
        if isinstance(value, Rational):
            return Fraction(value.numerator, value.denominator)
        if isinstance(value, Real):
            f = float(value)
            if not math.isfinite(f):
                raise ValueError
            return Fraction(repr(f))
        if isinstance(value, str):
            return Fraction(value.strip())
    except (ValueError, ZeroDivisionError):
        pass
    raise ValueError(f"{what} must be a finite number, a Fraction or a 'num/den' string, got {value!r}")


def output_length(num_frames: int, ratio: Fraction) -> int:
    """floor(N x ratio): the output keeps the source's duration."""
    return (num_frames * ratio.numerator) // ratio.denominator


def position(n: int, ratio: Fraction) -> tuple[int, Fraction]:
    """(i, t) for output frame n: left source frame i and timestep t in [0, 1)."""
    i, rem = divmod(n * ratio.denominator, ratio.numerator)
    return i, Fraction(rem, ratio.numerator)


class RatioTimeline:
    """Output frame n at source position n / ratio (:func:`position`): constant-rate
    sources, and ``ratio=`` on any source."""

    def __init__(self, num_frames: int, ratio: Fraction):
        self.ratio = ratio
        self.length = output_length(num_frames, ratio)

    def position(self, n: int) -> tuple[int, Fraction]:
        return position(n, self.ratio)

    def time(self, n: int) -> Fraction | None:
        """Output frame n's time in seconds; None (durations are the source's / ratio)."""
        return None


class TimestampTimeline:
    """Output frame n at time start + n / fps of the source timeline (seconds), between the
    two source frames around it, with the timestep from their real timestamps: variable
    frame rate sources (a frame held twice as long gets twice as many frames in between, a
    gap gets evenly spaced ones across it).

    Args:
        times: N + 1 strictly increasing Fractions: the start of each source frame and the
            end of the last one (seconds).
        fps: the output rate (> 0); the output covers [times[0], times[N]).
    """

    def __init__(self, times: list[Fraction], fps: Fraction):
        self.times, self.fps = times, fps
        self.length = math.floor((times[-1] - times[0]) * fps)

    def time(self, n: int) -> Fraction:
        return self.times[0] + Fraction(n) / self.fps

    def position(self, n: int) -> tuple[int, Fraction]:
        at = self.time(n)
        i = min(bisect.bisect_right(self.times, at) - 1, len(self.times) - 2)
        if i >= len(self.times) - 2:  # the last source frame holds to the end
            return i, Fraction(0)
        return i, (at - self.times[i]) / (self.times[i + 1] - self.times[i])


def timeline_times(stamps, num_frames: int) -> list[Fraction]:
    """The N + 1 frame boundaries (seconds) of :class:`TimestampTimeline` from the
    ``timestamps=`` argument of :func:`vsvfi.Interpolate`.

    ``stamps``: a sequence of N frame start times in seconds (the last frame lasts as long as
    the one before it) or N + 1 (the last entry is the end of the last frame), or the path
    (str or os.PathLike) of a Matroska timecodes v2 file (a ``# timecode format v2`` line,
    then one start time in milliseconds per frame), as written by mkvextract, ffprobe-based
    tools and ``core.bs.VideoSource(timecodes=...)``. Raises ValueError saying what is wrong.
    """
    if isinstance(stamps, (str, os.PathLike)):
        stamps = read_timecodes(stamps)
    try:
        times = [to_fraction(x, "timestamps") for x in stamps]
    except TypeError:
        raise ValueError("timestamps must be a list of seconds or a timecodes v2 file, got "
                         f"{type(stamps).__name__}") from None
    if len(times) not in (num_frames, num_frames + 1):
        raise ValueError(f"timestamps has {len(times)} entries for a clip of {num_frames} frames; give one start "
                         "time per frame (and optionally the end of the last one)")
    bad = next((k for k in range(1, len(times)) if times[k] <= times[k - 1]), None)
    if bad is not None:
        raise ValueError(f"timestamps must increase: entry {bad} ({float(times[bad])} s) is not after entry {bad - 1} "
                         f"({float(times[bad - 1])} s)")
    if len(times) == num_frames:
        times.append(times[-1] + (times[-1] - times[-2]) if num_frames > 1 else times[-1] + 1)
    return times


def read_timecodes(path) -> list[Fraction]:
    """Frame start times (seconds) of a Matroska timecodes v2 file. Raises ValueError for
    a missing file or another format."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise ValueError(f"cannot read timecodes file {path}: {e.strerror}") from None
    if not lines or not lines[0].strip().lower().startswith("# timecode format v2"):
        raise ValueError(f"{path} is not a timecodes v2 file (its first line must be '# timecode format v2')")
    out = []
    for k, line in enumerate(lines[1:], 2):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out.append(Fraction(line) / 1000)
        except ValueError:
            raise ValueError(f"{path}, line {k}: {line!r} is not a time in milliseconds") from None
    return out


def clip_times(clip) -> list[Fraction]:
    """The N + 1 frame boundaries (seconds) of a clip from its frames' ``_DurationNum`` /
    ``_DurationDen`` (starting at the first frame's ``_AbsoluteTime``, else 0). Requests
    every frame: for clips VapourSynth marks variable-rate (fps 0) without ``timestamps=``."""
    first = clip.get_frame(0).props
    start = to_fraction(first["_AbsoluteTime"], "_AbsoluteTime") if "_AbsoluteTime" in first else Fraction(0)
    times = [start]
    for k, frame in enumerate(clip.frames(close=True)):
        p = frame.props
        if p.get("_DurationDen", 0) <= 0 or p.get("_DurationNum", 0) <= 0:
            raise ValueError(f"source frame {k} has no positive _DurationNum/_DurationDen; pass timestamps=")
        times.append(times[-1] + Fraction(p["_DurationNum"], p["_DurationDen"]))
    return times


#: A source whose frame intervals differ by more than this (seconds) is variable-rate.
VARIABLE_SPREAD = Fraction(1, 1000)
#: Output rates the command line rounds a variable-rate input's rate to (:func:`standard_rate`).
STANDARD_RATES = tuple(Fraction(x) for x in ("24000/1001", "24", "25", "30000/1001", "30", "48", "50", "60000/1001",
                                             "60", "72", "90", "100", "120000/1001", "120", "144", "240"))


def standard_rate(rate: Fraction) -> Fraction:
    """The rate of :data:`STANDARD_RATES` nearest to ``rate`` (relative difference) when
    within 5 %, else ``rate`` rounded to a whole number of frames per second."""
    best = min(STANDARD_RATES, key=lambda r: abs(r / rate - 1))
    return best if abs(best / rate - 1) <= Fraction(5, 100) else Fraction(max(1, round(rate)))


def peak_rate(times: list[Fraction]) -> Fraction:
    """A variable-rate source's peak rate: 1 / the 5th-percentile frame interval (one
    stray short interval does not count)."""
    steps = sorted(b - a for a, b in zip(times, times[1:]))
    return 1 / steps[len(steps) // 20]


def is_variable(times: list[Fraction]) -> bool:
    """Whether frame start times (seconds) are unevenly spaced: intervals differing by
    more than :data:`VARIABLE_SPREAD` (timecodes files round to 0.01 ms, so an NTSC rate's
    alternating 33.36/33.37 ms is constant)."""
    steps = [b - a for a, b in zip(times, times[1:])]
    return bool(steps) and max(steps) - min(steps) > VARIABLE_SPREAD

"""The checks of ``Interpolate``'s arguments, as one table, and the output ratio.

Each rule is (argument, test, message); the first failing rule's message (formatted with
the argument's ``value``) becomes the ``vs.Error``. The messages are listed word for word
in docs/reliability.md (tests/test_reliability.py keeps the two in sync).
"""

from __future__ import annotations

import numbers
from fractions import Fraction
from typing import Any, Callable, NamedTuple

import vapoursynth as vs

from .models import FAMILY, MODELS, SCALES
from .runtime.providers import PROVIDERS
from .runtime.rife import PRECISION_MESSAGE, PRECISIONS
from .timing import RatioTimeline, TimestampTimeline, clip_times, output_length, timeline_times, to_fraction

#: VapourSynth's limits: frame counts are C ints, frame-rate numerators/denominators int64.
MAX_FRAMES, MAX_FPS_TERM = 2**31 - 1, 2**63 - 1


class Rule(NamedTuple):
    name: str  # argument of Interpolate
    test: Callable[[Any], bool]  # True when the value is acceptable
    message: str  # str.format template; fields: value (the argument)


def _number(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: not isinstance(v, bool) and isinstance(v, numbers.Real) and lo <= v <= hi


def _integer(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda v: not isinstance(v, bool) and isinstance(v, numbers.Integral) and lo <= v <= hi


def _flag(v) -> bool:
    return isinstance(v, (bool, int)) and v in (0, 1)


def _int_rule(name: str, lo: int, hi: int) -> Rule:
    return Rule(name, _integer(lo, hi), f"{name} must be an int in [{lo}, {hi}], got {{value!r}}")


def _flag_rule(name: str) -> Rule:
    return Rule(name, _flag, f"{name} must be True or False, got {{value!r}}")


#: Every check, in the order they run.
RULES: tuple[Rule, ...] = (
    Rule("clip", lambda c: isinstance(c, vs.VideoNode),
         "clip must be a vapoursynth.VideoNode, got {value.__class__.__name__}"),
    Rule("clip", lambda c: c.format is not None and c.format.id != vs.NONE,
         "the clip has a variable format; convert it to one format first "
         "(e.g. core.resize.Bicubic(clip, format=vs.YUV420P8))"),
    Rule("clip", lambda c: c.width != 0 and c.height != 0,
         "the clip has a variable frame size; resize it to one size first"),
    Rule("clip", lambda c: c.num_frames >= 2,
         "the clip needs at least 2 frames to interpolate between, it has {value.num_frames}"),
    Rule("sc_threshold", _number(0, 1), "sc_threshold must be a number in [0, 1], got {value!r}"),
    Rule("scale", lambda v: v == "auto" or (not isinstance(v, bool) and isinstance(v, numbers.Real)
                                             and float(v) in SCALES),
         f"scale must be 'auto' or one of {', '.join(map(str, SCALES))}, got {{value!r}}"),
    _flag_rule("ensemble"),
    _flag_rule("protect_static"),
    _flag_rule("scene_change"),
    _int_rule("num_streams", 1, 16),
    _int_rule("ort_threads", 0, 1024),
    _int_rule("device_index", 0, 1023),
    Rule("precision", lambda v: isinstance(v, str) and v in PRECISIONS, PRECISION_MESSAGE),
    Rule("model", lambda v: isinstance(v, str) and (v in MODELS or v in FAMILY),
         f"unknown model {{value!r}}; known models: {', '.join(MODELS)}, and the RIFE 4.x versions "
         f"rife4.0 ... rife4.26.heavy once imported (vsvfi models list)"),
    Rule("provider", lambda v: isinstance(v, str),
         f"unknown provider {{value!r}}; use one of: auto, {', '.join(PROVIDERS)}"),
)


def first_error(args: dict[str, Any]) -> str | None:
    """The message of the first rule of :data:`RULES` that ``args`` ({argument: value})
    fails, or None when all pass."""
    for rule in RULES:
        value = args[rule.name]
        if not rule.test(value):
            return rule.message.format(value=value)
    return None


def _parse(value, what: str, minimum: Fraction, strict: bool) -> Fraction:
    v = to_fraction(value, what)  # ValueError with its own message
    if v < minimum or (strict and v == minimum):
        raise ValueError(f"{what} must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return v


def output_ratio(clip: vs.VideoNode, ratio, fps) -> Fraction:
    """Output fps / input fps from ``ratio`` or ``fps`` (``ratio`` wins, with a logged
    warning, when both are given; 2 when neither is). Raises ValueError, with the message
    for the user, for a bad value, fps on a variable-frame-rate clip, a ratio below 1, or
    an output beyond VapourSynth's frame-count or fps limits."""
    if ratio is not None:
        if fps is not None:
            vs.core.log_message(vs.MESSAGE_TYPE_WARNING,
                                f"vsvfi.Interpolate: both ratio={ratio!r} and fps={fps!r} given; using ratio")
        r = _parse(ratio, "ratio", Fraction(1), strict=False)
    elif fps is not None:
        target = _parse(fps, "fps", Fraction(0), strict=True)
        r = target / Fraction(clip.fps.numerator, clip.fps.denominator)
        if r < 1:
            raise ValueError(f"fps={fps!r} is below the clip's {clip.fps} fps; vsvfi only raises the frame rate "
                             "(use core.std.SelectEvery or AssumeFPS to lower it)")
    else:
        r = Fraction(2)
    length = output_length(clip.num_frames, r)
    if length > MAX_FRAMES:
        raise ValueError(f"ratio {r} gives {length} output frames, more than VapourSynth's limit of {MAX_FRAMES}; "
                         "use a smaller ratio or fps")
    out_fps = Fraction(clip.fps.numerator, clip.fps.denominator) * r
    if max(out_fps.numerator, out_fps.denominator) > MAX_FPS_TERM:
        raise ValueError(f"the output frame rate {clip.fps} x {r} = {out_fps} does not fit VapourSynth's 64-bit "
                         "fps; give ratio or fps as a simpler fraction (e.g. ratio='5/2')")
    return r


def output_timeline(clip: vs.VideoNode, ratio, fps, timestamps):
    """Where each output frame sits (:mod:`vsvfi.timing`): a :class:`TimestampTimeline`
    for ``fps=`` with ``timestamps=`` or on a clip VapourSynth marks variable-rate (fps 0:
    the frames' durations are read, which requests every frame), else a
    :class:`RatioTimeline` from :func:`output_ratio`. Raises ValueError with the message
    for the user."""
    if ratio is not None or fps is None or (timestamps is None and clip.fps != 0):
        return RatioTimeline(clip.num_frames, output_ratio(clip, ratio, fps))
    target = _parse(fps, "fps", Fraction(0), strict=True)
    times = timeline_times(timestamps, clip.num_frames) if timestamps is not None else clip_times(clip)
    average = clip.num_frames / (times[-1] - times[0])
    if target < average:
        raise ValueError(f"fps={fps!r} is below the clip's average {float(average):.3f} fps; vsvfi only raises "
                         "the frame rate")
    if max(target.numerator, target.denominator) > MAX_FPS_TERM:
        raise ValueError(f"fps={fps!r} does not fit VapourSynth's 64-bit fps; give it as a simpler fraction")
    timeline = TimestampTimeline(times, target)
    if timeline.length > MAX_FRAMES:
        raise ValueError(f"fps={fps!r} gives {timeline.length} output frames, more than VapourSynth's limit of "
                         f"{MAX_FRAMES}")
    return timeline

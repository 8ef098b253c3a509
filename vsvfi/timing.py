"""Exact rational frame mapping between source and output frames.

Output frame n sits at source position p = n / ratio; i = floor(p) is the left source
frame and t = p - i in [0, 1) the timestep. All arithmetic is on ``fractions.Fraction``,
so NTSC rates map exactly (24000/1001 fps x 5/2 = 60000/1001 fps).
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Rational, Real


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

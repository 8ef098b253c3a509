"""The facts of every RIFE 4.x version (Practical-RIFE IFNet_HDv3, v4.0 to v4.26 with lite
and heavy variants): what changed between versions, one :class:`Version` each in
:data:`VERSIONS`. Torch-free: the runtime reads the padding and outputs from here, the
network itself is :mod:`vsvfi.export.rife4`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The large-motion rule's threshold (pixels) on block1's flow correction (4.0, 4.1).
LARGE_MOTION_PX = 32.0


@dataclass(frozen=True)
class Version:
    """The facts of one RIFE 4.x version (see the module docstring).

    ``widths``: channels of each flow block; ``bases``: each block's downscale at ``scale``
    1; ``encoder``: None, ``"seq1"`` (conv + transposed conv, 4.7-4.9), ``"seq3"`` (three
    convs + transposed conv, 4.10-4.13 lite) or ``"head"`` (the same as named layers
    ``cnn0``..``cnn3``, 4.13 on); ``enc_width``/``features``: the encoder's width and output
    channels per frame; ``trunk``: ``"conv"`` or ``"res"``; ``skip``: one residual around
    the trunk; ``groups``: of the residual convolutions; ``out``: the head's channels
    (5 upscaled, or 20, 24, 52 before a pixel shuffle); ``accumulate``: the mask logit
    accumulates; ``large_motion``: the 4.0/4.1 rule; ``ensemble``: upstream runs the
    time-reversed pair inside the network (vsvfi's ``ensemble`` averages frames instead);
    ``same_as``: an earlier version with the same architecture (only weights differ).
    """

    widths: tuple[int, ...] = (192, 128, 96, 64)
    bases: tuple[float, ...] = (8.0, 4.0, 2.0, 1.0)
    encoder: str | None = None
    enc_width: int = 32
    features: int = 0
    trunk: str = "res"
    skip: bool = False
    prelu: bool = False
    groups: int = 1
    out: int = 24
    accumulate: bool = False
    large_motion: bool = False
    ensemble: bool = True
    same_as: str | None = None

    @property
    def carries(self) -> bool:
        """Blocks hand 8 feature channels to the next one (heads of 52 channels)."""
        return self.out == 52

    @property
    def pad_multiple(self) -> int:
        """Height and width multiple at ``scale`` 1: the coarsest level, then two stride-2
        convolutions; doubled where a large-motion rerun halves the scale."""
        return int(self.bases[0] * 4) * (2 if self.large_motion else 1)


_V40 = Version(trunk="conv", skip=True, prelu=True, out=5, accumulate=True, large_motion=True)
_V42 = Version(trunk="conv", out=5, accumulate=True)
_V46 = Version(accumulate=True)
_V47 = Version(encoder="seq1", enc_width=16, features=4)
_V410 = Version(encoder="seq3", features=8)
_V412L = Version(widths=(128, 96, 64, 48), encoder="seq3", features=4)
_V413 = Version(encoder="head", features=8)
_V415L = Version(widths=(128, 96, 64, 48), encoder="head", enc_width=16, features=4)
_V421 = Version(widths=(256, 192, 96, 48), encoder="head", features=8, out=52, ensemble=False)
_V425 = Version(widths=(192, 128, 96, 64, 32), bases=(16.0, 8.0, 4.0, 2.0, 1.0), encoder="head", enc_width=16,
                features=4, out=52, ensemble=False)


def _same(v: Version, name: str) -> Version:
    return Version(**{**v.__dict__, "same_as": name})


#: Every RIFE 4.x version by its upstream name ("4.25", "4.25.lite", ...).
VERSIONS: dict[str, Version] = {
    "4.0": _V40, "4.1": _same(_V40, "4.0"),
    "4.2": _V42, "4.3": _same(_V42, "4.2"), "4.4": _same(_V42, "4.2"),
    "4.5": Version(trunk="res", out=20, accumulate=True),
    "4.6": _V46,
    "4.7": _V47, "4.8": _same(_V47, "4.7"), "4.9": _same(_V47, "4.7"),
    "4.10": _V410, "4.11": _same(_V410, "4.10"), "4.12": _same(_V410, "4.10"),
    "4.12.lite": _V412L, "4.13.lite": _same(_V412L, "4.12.lite"),
    "4.13": _V413, "4.14": _same(_V413, "4.13"), "4.15": _same(_V413, "4.13"), "4.17": _same(_V413, "4.13"),
    "4.18": _same(_V413, "4.13"), "4.19": _same(_V413, "4.13"), "4.24": _same(_V413, "4.13"),
    "4.14.lite": Version(encoder="head", features=8, groups=2),
    "4.15.lite": _V415L, "4.16.lite": _same(_V415L, "4.15.lite"), "4.17.lite": _same(_V415L, "4.15.lite"),
    "4.20": Version(widths=(384, 192, 96, 48), encoder="head", features=8),
    "4.21": _V421, "4.22": _same(_V421, "4.21"), "4.23": _same(_V421, "4.21"),
    "4.22.lite": Version(widths=(192, 128, 64, 32), encoder="head", enc_width=16, features=4, out=52,
                         ensemble=False),
    "4.25": _V425, "4.26": _same(_V425, "4.25"),
    "4.25.lite": Version(**{**_V425.__dict__, "widths": (192, 128, 96, 64, 24), "bases": (32.0, 16.0, 8.0, 4.0, 1.0)}),
    "4.25.heavy": Version(**{**_V425.__dict__, "widths": (384, 256, 192, 128, 64)}),
    "4.26.heavy": Version(**{**_V425.__dict__, "features": 16}),
}

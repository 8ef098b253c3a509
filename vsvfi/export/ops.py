"""Operations shared by the exported networks, written so that one ONNX graph serves every
frame size and every flow ``scale``.

- :func:`resize_by`: bilinear resize by a factor held in a tensor; exported as one ONNX
  ``Resize`` whose ``scales`` input is computed in the graph (from the ``scale`` input), so
  the factor is not frozen into the file at export time.
- :func:`backward_warp`: bilinear backward warp whose sampling grid is computed in the
  graph from the flow tensor's own shape (CumSum over a ones row/column).
- :func:`as_scale`: the ``scale`` argument of the networks as a float32 (1,) tensor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class _ResizeBy(torch.autograd.Function):
    """Bilinear resize of the last two axes by ``factor`` (a float32 (1,) tensor).

    In torch: ``F.interpolate(..., scale_factor=factor, align_corners=False,
    recompute_scale_factor=False)``, i.e. output size floor(size * factor) and source
    coordinate (x + 0.5) / factor - 0.5. In ONNX: ``Resize`` (linear, half_pixel) with
    scales [1, 1, factor, factor] built in the graph, which computes the same thing.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        return F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=False,
                             recompute_scale_factor=False)

    @staticmethod
    def symbolic(g, x, factor):
        roi = g.op("Constant", value_t=torch.tensor([], dtype=torch.float32))
        ones = g.op("Constant", value_t=torch.ones(2, dtype=torch.float32))
        one = g.op("Constant", value_t=torch.tensor([1], dtype=torch.int64))
        f = g.op("Reshape", factor, one)
        scales = g.op("Concat", ones, f, f, axis_i=0)
        return g.op("Resize", x, roi, scales, mode_s="linear", coordinate_transformation_mode_s="half_pixel")


def resize_by(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Resize ``x`` (N, C, H, W) bilinearly by ``factor`` (float32 (1,) tensor, > 0) to
    (N, C, floor(H * factor), floor(W * factor)); half-pixel centres, no antialiasing.
    Values are resampled, not rescaled (multiply flows separately)."""
    return _ResizeBy.apply(x, factor)


def as_scale(scale: torch.Tensor | float) -> torch.Tensor:
    """``scale`` as a float32 (1,) tensor (a Python number is accepted in eager use)."""
    if isinstance(scale, torch.Tensor):
        return scale.reshape(1).to(torch.float32)
    return torch.tensor([float(scale)], dtype=torch.float32)


def backward_warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``img`` (N, C, H, W) at ``pixel + flow`` (flow: N, 2, H, W, in pixels of
    ``img``, x then y); bilinear, border padding, corners aligned (grid normalised with
    (W - 1) / 2 and (H - 1) / 2, as Practical-RIFE's warp does). Returns (N, C, H, W).

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

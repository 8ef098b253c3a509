"""Operations shared by the exported networks, written so that one ONNX graph serves every
frame size and every flow ``scale``.

- :func:`resize_by`: bilinear resize by a factor held in a tensor; exported as one ONNX
  ``Resize`` whose ``scales`` input is computed in the graph (from the ``scale`` input), so
  the factor is not frozen into the file at export time.
- :func:`backward_warp`: bilinear backward warp whose sampling grid is computed in the
  graph from the flow tensor's own shape (CumSum over a ones row/column). Eager torch runs
  ``F.grid_sample``; what an ONNX export writes is chosen by :data:`EXPORT_WARP` /
  :func:`export_warp` (one of :data:`WARP_FORMULATIONS`).
- :func:`as_scale`: the ``scale`` argument of the networks as a float32 (1,) tensor.
- :class:`PReLU`: ``nn.PReLU`` exported as Relu + Min * slope (faster on ONNX Runtime's
  CPU EP, same values).

Why the default export form is ``"gridsample_banded"`` (measurements: docs/cpu-profile.md):
ONNX Runtime's CPU ``GridSample`` has a fast path only for bilinear sampling with zeros
padding and ``align_corners=0``; clamping the sampling position to the frame first gives
border padding with aligned corners (Practical-RIFE's warp) through that path, and
splitting the output into row bands keeps that path's per-call buffer small. The whole
network runs 1.2-1.3x faster per frame than with the plain ``GridSample`` form. It is
still the standard ``GridSample`` op, which the CUDA and TensorRT providers run natively;
``"gridsample"`` reproduces the previous graph.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
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


class PReLU(nn.PReLU):
    """``nn.PReLU`` (same parameter ``weight``, one slope per channel; input (N, C, ...)
    float32) whose ONNX export is ``Relu(x) + Min(x, 0) * slope`` instead of one
    ``PRelu`` node: the same values bit for bit, and about 6x faster on ONNX Runtime's CPU
    EP, whose per-channel ``PRelu`` kernel is not vectorised (docs/cpu-profile.md). Eager
    torch runs ``F.prelu`` as ``nn.PReLU`` does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.onnx.is_in_onnx_export():
            return F.prelu(x, self.weight)
        slope = self.weight.reshape(1, -1, *([1] * (x.dim() - 2)))
        return F.relu(x) + torch.clamp(x, max=0.0) * slope


#: Formulations of :func:`backward_warp` in an exported graph (see docs/cpu-profile.md):
#:
#: - ``"gridsample"``: one ONNX ``GridSample`` (bilinear, border padding, corners aligned)
#:   on a normalised grid; the op GPU providers (CUDA, TensorRT) have a kernel for.
#: - ``"gridsample_fast"``: the sampling position is clamped to the frame in pixels first,
#:   then one ``GridSample`` with zeros padding and half-pixel corners, which ONNX
#:   Runtime's CPU EP runs on a faster path (same result up to float rounding of the
#:   normalisation: every sample lies inside the frame, so the zeros never get weight).
#: - ``"gridsample_banded"``: ``"gridsample_fast"`` run as :data:`GRID_BANDS` row bands of
#:   the output (one ``GridSample`` each on the whole image, then ``Concat``); same values.
#: - ``"gather"``: no ``GridSample``; the 4 bilinear neighbours are fetched with one
#:   ``Gather`` of channels-last rows from a 4-neighbour stack of the image, then blended
#:   with explicit weights.
WARP_FORMULATIONS = ("gridsample", "gridsample_fast", "gridsample_banded", "gather")

#: The formulation :func:`backward_warp` writes into an exported graph when none is given;
#: change it with :func:`export_warp`. Eager torch always runs ``F.grid_sample``.
EXPORT_WARP = "gridsample_banded"


@contextlib.contextmanager
def export_warp(formulation: str):
    """Context manager: export :func:`backward_warp` as ``formulation`` (one of
    :data:`WARP_FORMULATIONS`) inside the block. Raises ValueError for another name."""
    global EXPORT_WARP
    if formulation not in WARP_FORMULATIONS:
        raise ValueError(f"unknown warp formulation {formulation!r}; use one of {WARP_FORMULATIONS}")
    old, EXPORT_WARP = EXPORT_WARP, formulation
    try:
        yield
    finally:
        EXPORT_WARP = old


def _pixel_grid(flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """x (N, 1, 1, W) = 0 .. W-1, y (N, 1, H, 1) = 0 .. H-1, W - 1 and H - 1 (float32),
    from cumulative sums over ones shaped like a row / column of ``flow``, so that the
    exported graph follows the input size at run time."""
    xs = torch.cumsum(torch.ones_like(flow[:, 0:1, 0:1, :]), 3) - 1.0
    ys = torch.cumsum(torch.ones_like(flow[:, 0:1, :, 0:1]), 2) - 1.0
    return xs, ys, xs[:, :, :, -1:], ys[:, :, -1:, :]


def _clamped_position(flow: torch.Tensor):
    """Sampling position pixel + flow clamped to [0, W - 1] x [0, H - 1] (border padding
    with aligned corners); returns x, y (N, 1, H, W) and W - 1, H - 1."""
    xs, ys, w_1, h_1 = _pixel_grid(flow)
    x = torch.minimum(torch.clamp(xs + flow[:, 0:1], min=0.0), w_1)
    y = torch.minimum(torch.clamp(ys + flow[:, 1:2], min=0.0), h_1)
    return x, y, w_1, h_1


def _warp_gridsample(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    xs, ys, w_1, h_1 = _pixel_grid(flow)
    gx = (xs + flow[:, 0:1]) * (2.0 / w_1) - 1.0
    gy = (ys + flow[:, 1:2]) * (2.0 / h_1) - 1.0
    grid = torch.cat((gx, gy), 1).permute(0, 2, 3, 1)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _warp_gridsample_fast(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    x, y, w_1, h_1 = _clamped_position(flow)
    # half-pixel normalisation: g = (2 x + 1) / W - 1; all samples lie inside the frame, so
    # zeros padding never contributes (a neighbour outside has weight 0)
    gx = (x * 2.0 + 1.0) / (w_1 + 1.0) - 1.0
    gy = (y * 2.0 + 1.0) / (h_1 + 1.0) - 1.0
    grid = torch.cat((gx, gy), 1).permute(0, 2, 3, 1)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


#: Row bands of the ``"gridsample_banded"`` form.
GRID_BANDS = 4


def _warp_gridsample_banded(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    x, y, w_1, h_1 = _clamped_position(flow)
    gx = (x * 2.0 + 1.0) / (w_1 + 1.0) - 1.0
    gy = (y * 2.0 + 1.0) / (h_1 + 1.0) - 1.0
    grid = torch.cat((gx, gy), 1).permute(0, 2, 3, 1)
    # ORT's fast path allocates a 56-byte plan per output pixel on every call; above 32 MB
    # (about 600k pixels) glibc serves that with a fresh mmap, whose page faults cost more
    # than the sampling. Row bands keep each call's plan under it up to 1920x1088.
    step = (grid.shape[1] + GRID_BANDS - 1) // GRID_BANDS
    bands = [F.grid_sample(img, grid[:, i * step:(i + 1) * step], mode="bilinear", padding_mode="zeros",
                           align_corners=False) for i in range(GRID_BANDS)]
    return torch.cat(bands, 2)


def _warp_gather(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    n, c, h, w = img.shape
    x, y, w_1, h_1 = _clamped_position(flow)
    x0 = torch.floor(x)
    y0 = torch.floor(y)
    wx = x - x0
    wy = y - y0
    # 4-neighbour stack: channels [p(y, x), p(y, x+1), p(y+1, x), p(y+1, x+1)], the last
    # column / row repeated (its weight is 0 there, as border padding gives)
    right = torch.cat((img[..., 1:], img[..., -1:]), 3)
    pair = torch.cat((img, right), 1)
    below = torch.cat((pair[:, :, 1:], pair[:, :, -1:]), 2)
    rows = torch.cat((pair, below), 1).permute(0, 2, 3, 1).reshape(-1, 4 * c)  # (N*H*W, 4C)
    batch = torch.cumsum(torch.ones_like(flow[:, 0:1, 0:1, 0:1]), 0) - 1.0
    width = (w_1 + 1.0).long()
    index = ((batch * (h_1 + 1.0)).long() + y0.long()) * width + x0.long()  # row in `rows`
    v = rows[index.reshape(n, h, w)].permute(0, 3, 1, 2)  # (N, 4C, H, W)
    v00, v01, v10, v11 = v[:, :c], v[:, c:2 * c], v[:, 2 * c:3 * c], v[:, 3 * c:]
    top = v00 + wx * (v01 - v00)
    bottom = v10 + wx * (v11 - v10)
    return top + wy * (bottom - top)


_WARPS = {"gridsample": _warp_gridsample, "gridsample_fast": _warp_gridsample_fast,
          "gridsample_banded": _warp_gridsample_banded, "gather": _warp_gather}


def backward_warp(img: torch.Tensor, flow: torch.Tensor, formulation: str | None = None) -> torch.Tensor:
    """Sample ``img`` (N, C, H, W, float32) at ``pixel + flow`` (flow: N, 2, H, W, float32,
    in pixels of ``img``, x then y); bilinear, border padding, corners aligned (grid
    normalised with (W - 1) / 2 and (H - 1) / 2, as Practical-RIFE's warp does). Returns
    (N, C, H, W) float32.

    ``formulation`` (one of :data:`WARP_FORMULATIONS`) picks how it is computed; by
    default eager torch runs ``F.grid_sample`` (the ``"gridsample"`` form) and an ONNX
    export writes :data:`EXPORT_WARP`. The forms agree to float rounding (about 1e-5 on
    real frames). The pixel grid is computed from ``flow``'s shape, so the exported graph
    follows the input size at run time. Raises ValueError for an unknown formulation.
    """
    if formulation is None:
        formulation = EXPORT_WARP if torch.onnx.is_in_onnx_export() else "gridsample"
    try:
        warp = _WARPS[formulation]
    except KeyError:
        raise ValueError(f"unknown warp formulation {formulation!r}; use one of {WARP_FORMULATIONS}") from None
    return warp(img, flow)

"""Forward warping (splatting) in plain torch operations that export to standard ONNX.

Softmax splatting (Niklaus and Liu, "Softmax Splatting for Video Frame Interpolation",
CVPR 2020) moves every source pixel along its optical flow to ``pixel + flow`` and spreads
it bilinearly over the four surrounding target pixels; where several source pixels land on
the same target, they are averaged with weights ``exp(metric)``:

    out[q] = sum_p b(p, q) exp(Z[p]) src[p] / (sum_p b(p, q) exp(Z[p]) + 1e-7)

with ``b(p, q)`` the bilinear corner weight of target pixel ``q`` for the splatted
position of ``p`` (zero unless ``q`` is one of its four neighbours). Contributions that
land outside the frame are dropped; a source pixel whose splatted position is not finite
contributes nothing. This is the formulation of the reference CUDA kernel (``softsplat.py``
of sniklaus/softmax-splatting as shipped in GMFSS), epsilon included.

The accumulation is one ONNX ``ScatterND`` with ``reduction="add"`` per corner (opset >= 16)
over a channel-last (pixels, channels) view: each index moves a whole row of channels, so
the scatter does one index computation per pixel and corner rather than one per element.
In eager torch the same accumulation is ``index_put_(..., accumulate=True)``.
"""

from __future__ import annotations

import torch


class _ScatterAddRows(torch.autograd.Function):
    """``out = data.clone(); out[index[k]] += updates[k]`` for every k (duplicates add up).

    data: float32 (P, C); index: int64 (K, 1) in [0, P); updates: float32 (K, C).
    Exported as ONNX ScatterND(data, index, updates, reduction="add")."""

    @staticmethod
    def forward(ctx, data, index, updates):  # noqa: ARG004
        return data.index_put((index[:, 0],), updates, accumulate=True)

    @staticmethod
    def symbolic(g, data, index, updates):
        return g.op("ScatterND", data, index, updates, reduction_s="add")


def _pixel_grid(flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, 1, 1, W) and y (N, 1, H, 1) pixel coordinates 0 .. W-1 and 0 .. H-1, made
    from ``flow``'s own shape (CumSum over a ones row / column) so an exported graph
    follows the input size."""
    xs = torch.cumsum(torch.ones_like(flow[:, 0:1, 0:1, :]), 3) - 1.0
    ys = torch.cumsum(torch.ones_like(flow[:, 0:1, :, 0:1]), 2) - 1.0
    return xs, ys


def forward_splat(src: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Summation splatting: every pixel of ``src`` is added, bilinearly, at ``pixel + flow``.

    src: float32 (N, C, H, W); flow: float32 (N, 2, H, W), x then y displacement in pixels.
    Returns float32 (N, C, H, W): out[n, c, q] = sum_p b(p, q) src[n, c, p]; contributions
    outside the frame and from non-finite positions are dropped.
    """
    n, c, h, w = src.shape
    xs, ys = _pixel_grid(flow)
    fx = xs + flow[:, 0:1]
    fy = ys + flow[:, 1:2]
    finite = torch.isfinite(fx) & torch.isfinite(fy)
    fx = torch.where(finite, fx, torch.zeros_like(fx))
    fy = torch.where(finite, fy, torch.zeros_like(fy))
    x0 = torch.floor(fx)
    y0 = torch.floor(fy)
    ax = fx - x0  # weight of the right column
    ay = fy - y0  # weight of the bottom row
    width = xs[:, :, :, -1:] + 1.0  # W as a (N, 1, 1, 1) float
    height = ys[:, :, -1:, :] + 1.0
    # first row of image n in the flattened (N*H*W) pixel axis (int64: no float32 rounding)
    base = (torch.cumsum(torch.ones_like(flow[:, 0:1, 0:1, 0:1], dtype=torch.int64), 0) - 1) \
        * (width * height).to(torch.int64)
    # channel-last rows: (N*H*W, C)
    rows = src.permute(0, 2, 3, 1).reshape(-1, c)
    out = torch.zeros_like(rows)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        cx = x0 + dx
        cy = y0 + dy
        wgt = (ax if dx else 1.0 - ax) * (ay if dy else 1.0 - ay)
        inside = finite & (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
        wgt = torch.where(inside, wgt, torch.zeros_like(wgt))
        # index within the image in float32 (exact below 2**24 pixels), then int64
        idx = torch.where(inside, cy * width + cx, torch.zeros_like(cx)).to(torch.int64) + base
        idx = idx.reshape(-1, 1)
        out = _ScatterAddRows.apply(out, idx, rows * wgt.reshape(-1, 1))
    return out.reshape(n, h, w, c).permute(0, 3, 1, 2)


#: Added to the splatted weight sum before dividing (the reference's value).
EPS = 1e-7


def softmax_splat(src: torch.Tensor, flow: torch.Tensor, metric: torch.Tensor) -> torch.Tensor:
    """Softmax splatting (forward warping) of ``src`` along ``flow`` with importance
    ``metric``.

    src: float32 (N, C, H, W); flow: float32 (N, 2, H, W), pixels, x then y; metric:
    float32 (N, 1, H, W), log-weights (GMFSS keeps them in [-10, 10], so exp cannot
    overflow). Returns float32 (N, C, H, W):
    ``splat(src * exp(metric)) / (splat(exp(metric)) + 1e-7)``; target pixels that nothing
    lands on are 0.
    """
    weight = torch.exp(metric)
    acc = forward_splat(torch.cat((src * weight, weight), 1), flow)
    return acc[:, :-1] / (acc[:, -1:] + EPS)

"""GMFlow (Xu et al., "GMFlow: Learning Optical Flow via Global Matching", CVPR 2022,
https://github.com/haofeixu/gmflow, MIT) re-written for ONNX export with dynamic height
and width, as GMFSS_Fortuna uses it (:mod:`vsvfi.export.gmfss` has the whole pipeline).

The window partition of the shifted-window attention is a reshape/permute with sizes taken
from the tensor, the cyclic shift is a Gather with indices computed in the graph, the
shifted-window attention mask is computed from the feature size in the graph, and the
local (unfold-style) windows are zero-padded slices. Parameter names match the reference's
``flownet.pkl``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F



# ---------------------------------------------------------------------------------------
# small helpers (all derive sizes from tensors so the graph follows the input size)

def pixel_grid(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, 1, 1, W) and y (N, 1, H, 1) pixel coordinates of ``x`` (N, C, H, W), float32."""
    xs = torch.cumsum(torch.ones_like(x[:, 0:1, 0:1, :]), 3) - 1.0
    ys = torch.cumsum(torch.ones_like(x[:, 0:1, :, 0:1]), 2) - 1.0
    return xs, ys


def sample_zeros(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warping: ``img`` (N, C, H, W) sampled bilinearly at ``pixel + flow`` (flow
    (N, 2, H, W), pixels), zeros outside, corners aligned (GMFlow's ``flow_warp`` and
    MetricNet's ``backwarp``)."""
    xs, ys = pixel_grid(flow)
    gx = (xs + flow[:, 0:1]) * (2.0 / xs[:, :, :, -1:]) - 1.0
    gy = (ys + flow[:, 1:2]) * (2.0 / ys[:, :, -1:, :]) - 1.0
    grid = torch.cat((gx, gy), 1).permute(0, 2, 3, 1)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def _shifted(padded: torch.Tensor, dy: int, dx: int, r: int) -> torch.Tensor:
    """The window of ``padded`` (zero-padded by ``r`` on each side) offset by (dy, dx) in
    [0, 2r]: value at (y, x) is the unpadded tensor at (y + dy - r, x + dx - r), 0 outside."""
    ey = dy - 2 * r or None
    ex = dx - 2 * r or None
    return padded[:, :, dy:ey, dx:ex]


def _split(x: torch.Tensor, k: int) -> torch.Tensor:
    """(B, H, W, C) -> (B*k*k, H/k, W/k, C): k x k windows, window index row-major."""
    b, h, w, c = x.shape
    x = x.reshape(b, k, h // k, k, w // k, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b * k * k, h // k, w // k, c)


def _merge(x: torch.Tensor, k: int) -> torch.Tensor:
    """Inverse of :func:`_split`."""
    bkk, hk, wk, c = x.shape
    x = x.reshape(bkk // (k * k), k, k, hk, wk, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(bkk // (k * k), k * hk, k * wk, c)


def _roll(x: torch.Tensor, shift: torch.Tensor, dim: int) -> torch.Tensor:
    """``torch.roll(x, shift, dim)`` for a float32 0-d tensor ``shift`` computed in the graph:
    a Gather with indices (i - shift) mod size, the indices made from ``x``'s own shape."""
    pick = [0] * x.dim()
    pick[dim] = slice(None)
    i = torch.cumsum(torch.ones_like(x[tuple(pick)]), 0) - 1.0
    size = i[-1:] + 1.0
    idx = torch.remainder(i - shift + size, size).to(torch.int64)
    return torch.index_select(x, dim, idx)


# ---------------------------------------------------------------------------------------
# GMFlow

class _ResBlock(nn.Module):
    """Residual block of GMFlow's CNN backbone (instance norm, no affine parameters)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm1 = nn.InstanceNorm2d(cout)
        self.norm2 = nn.InstanceNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.InstanceNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return F.relu(x + y)


class _Backbone(nn.Module):
    """CNN encoder: 128-channel features at 1/4 and 1/8 of its input (a shared-weight 3x3
    convolution with stride 1 and 2 at the end)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.norm1 = nn.InstanceNorm2d(64)
        self.layer1 = nn.Sequential(_ResBlock(64, 64), _ResBlock(64, 64))
        self.layer2 = nn.Sequential(_ResBlock(64, 96, 2), _ResBlock(96, 96))
        self.layer3 = nn.Sequential(_ResBlock(96, 128), _ResBlock(128, 128))
        self.conv2 = nn.Conv2d(128, 128, 1)
        self.trident_conv = nn.Module()
        self.trident_conv.weight = nn.Parameter(torch.empty(128, 128, 3, 3))

    def forward(self, x):
        x = F.relu(self.norm1(self.conv1(x)))
        x = self.conv2(self.layer3(self.layer2(self.layer1(x))))
        w = self.trident_conv.weight
        return F.conv2d(x, w, None, 1, 1), F.conv2d(x, w, None, 2, 1)  # 1/4, 1/8


class _Position(nn.Module):
    """Sine position encoding (DETR style, normalised to 2 pi) for 128 channels."""

    def __init__(self, feats: int = 64):
        super().__init__()
        dim_t = torch.arange(feats, dtype=torch.float32)
        self.register_buffer("dim_t", 10000 ** (2 * (dim_t // 2) / feats), persistent=False)

    def forward(self, x):  # x (B, C, H, W) -> (1, C, H, W)
        xs, ys = pixel_grid(x[:1])
        x_embed = ((xs + 1.0) / (xs[:, :, :, -1:] + 1.0 + 1e-6) * (2 * math.pi))[:, 0]  # (1, 1, W)
        y_embed = ((ys + 1.0) / (ys[:, :, -1:, :] + 1.0 + 1e-6) * (2 * math.pi))[:, 0]  # (1, H, 1)
        x_embed = x_embed.expand(1, ys.shape[2], xs.shape[3])
        y_embed = y_embed.expand(1, ys.shape[2], xs.shape[3])
        pos_x = x_embed[:, :, :, None] / self.dim_t
        pos_y = y_embed[:, :, :, None] / self.dim_t
        pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
        return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


def _add_position(pos: _Position, f0: torch.Tensor, f1: torch.Tensor, k: int):
    """Add the position encoding of one k x k window to every window of f0 and f1."""
    if k == 1:
        p = pos(f0)
        return f0 + p, f1 + p
    b, c, h, w = f0.shape
    p = pos(f0[:, :, : h // k, : w // k])  # (1, C, H/k, W/k)
    p = p.repeat(1, 1, k, k)
    return f0 + p, f1 + p


def _window_mask(h_t: torch.Tensor, w_t: torch.Tensor, k: int) -> torch.Tensor:
    """Shifted-window attention mask (k*k, L, L), L = (H/k)(W/k): 0 where two positions of
    a window come from the same region of the cyclically shifted map, -100 elsewhere (as
    Swin / GMFlow). ``h_t``, ``w_t``: (1, 1, H, 1) / (1, 1, 1, W) pixel coordinates."""
    hh = h_t[:, :, -1:, :] + 1.0
    ww = w_t[:, :, :, -1:] + 1.0
    wsh = torch.floor(hh / k)
    wsw = torch.floor(ww / k)
    rh = (h_t >= hh - wsh).float() + (h_t >= hh - torch.floor(wsh / 2)).float()
    rw = (w_t >= ww - wsw).float() + (w_t >= ww - torch.floor(wsw / 2)).float()
    label = (rh * 3.0 + rw).permute(0, 2, 3, 1)  # (1, H, W, 1)
    win = _split(label, k).reshape(k * k, -1)  # (k*k, L)
    diff = win.unsqueeze(1) - win.unsqueeze(2)
    return torch.where(diff != 0, torch.full_like(diff, -100.0), torch.zeros_like(diff))


class _AttnLayer(nn.Module):
    """Single-head (shifted-)window attention + optional FFN (GMFlow TransformerLayer)."""

    def __init__(self, d: int = 128, ffn: bool = True, shift: bool = False):
        super().__init__()
        self.shift = shift
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.merge = nn.Linear(d, d, bias=False)
        self.norm1 = nn.LayerNorm(d)
        self.ffn = ffn
        if ffn:
            self.mlp = nn.Sequential(nn.Linear(2 * d, 8 * d, bias=False), nn.GELU(), nn.Linear(8 * d, d, bias=False))
            self.norm2 = nn.LayerNorm(d)

    def forward(self, source, target, k: int, mask, shifts):
        # source, target: (B, H, W, C)
        b, h, w, c = source.shape
        q, kk, v = self.q_proj(source), self.k_proj(target), self.v_proj(target)
        if k > 1:
            if self.shift:
                sh, sw = shifts
                q, kk, v = (_roll(_roll(t, -sh, 1), -sw, 2) for t in (q, kk, v))
            q, kk, v = (_split(t, k).reshape(b * k * k, -1, c) for t in (q, kk, v))
            scores = torch.matmul(q, kk.transpose(1, 2)) / (c ** 0.5)
            if self.shift:
                scores = (scores.reshape(b, k * k, scores.shape[1], scores.shape[2]) + mask).reshape(scores.shape)
            out = torch.matmul(torch.softmax(scores, -1), v)
            out = _merge(out.reshape(b * k * k, h // k, w // k, c), k)
            if self.shift:
                out = _roll(_roll(out, sh, 1), sw, 2)
        else:
            q, kk, v = (t.reshape(b, -1, c) for t in (q, kk, v))
            scores = torch.matmul(q, kk.transpose(1, 2)) / (c ** 0.5)
            out = torch.matmul(torch.softmax(scores, -1), v).reshape(b, h, w, c)
        msg = self.norm1(self.merge(out))
        if self.ffn:
            msg = self.norm2(self.mlp(torch.cat((source, msg), -1)))
        return source + msg


class _Block(nn.Module):
    def __init__(self, shift: bool):
        super().__init__()
        self.self_attn = _AttnLayer(ffn=False, shift=shift)
        self.cross_attn_ffn = _AttnLayer(ffn=True, shift=shift)

    def forward(self, source, target, k, mask, shifts):
        source = self.self_attn(source, source, k, mask, shifts)
        return self.cross_attn_ffn(source, target, k, mask, shifts)


class _Transformer(nn.Module):
    """6 blocks of self + cross attention; odd blocks use shifted windows."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([_Block(shift=i % 2 == 1) for i in range(6)])

    def forward(self, f0, f1, k: int):
        # f0, f1: (B, C, H, W) -> updated f0, f1
        xs, ys = pixel_grid(f0[:1])
        mask = shifts = None
        if k > 1:
            mask = _window_mask(ys, xs, k)
            shifts = (torch.floor(torch.floor((ys[0, 0, -1, 0] + 1.0) / k) / 2),
                      torch.floor(torch.floor((xs[0, 0, 0, -1] + 1.0) / k) / 2))
        a = torch.cat((f0, f1), 0).permute(0, 2, 3, 1)
        b = torch.cat((f1, f0), 0).permute(0, 2, 3, 1)
        for layer in self.layers:
            a = layer(a, b, k, mask, shifts)
            b = torch.cat(a.chunk(2, 0)[::-1], 0)
        a = a.permute(0, 3, 1, 2)
        n = f0.shape[0]
        return a[:n], a[n:]


class _FlowAttention(nn.Module):
    """Flow propagation by self-attention on the features (global, or 3x3 local)."""

    def __init__(self, c: int = 128):
        super().__init__()
        self.q_proj = nn.Linear(c, c)
        self.k_proj = nn.Linear(c, c)

    def forward(self, feat, flow, radius: int):
        b, c, h, w = feat.shape
        f = feat.flatten(2).transpose(1, 2)  # (B, HW, C)
        q = self.q_proj(f)
        if radius <= 0:
            key = self.k_proj(q)  # sic: the reference projects the query (weights trained so)
            prob = torch.softmax(torch.matmul(q, key.transpose(1, 2)) / (c ** 0.5), -1)
            out = torch.matmul(prob, flow.flatten(2).transpose(1, 2))  # (B, HW, 2)
            return out.transpose(1, 2).reshape(b, 2, h, w)
        key = self.k_proj(f).transpose(1, 2).reshape(b, c, h, w)
        q = q.transpose(1, 2).reshape(b, c, h, w)
        kp = F.pad(key, (radius,) * 4)
        fp = F.pad(flow, (radius,) * 4)
        n = 2 * radius + 1
        offs = [(dy, dx) for dy in range(n) for dx in range(n)]
        scores = torch.cat([(q * _shifted(kp, dy, dx, radius)).sum(1, keepdim=True) for dy, dx in offs], 1)
        prob = torch.softmax(scores / (c ** 0.5), 1)  # (B, n*n, H, W)
        fx = torch.cat([_shifted(fp[:, 0:1], dy, dx, radius) for dy, dx in offs], 1)
        fy = torch.cat([_shifted(fp[:, 1:2], dy, dx, radius) for dy, dx in offs], 1)
        return torch.cat(((prob * fx).sum(1, keepdim=True), (prob * fy).sum(1, keepdim=True)), 1)


def _local_correlation_flow(f0: torch.Tensor, f1: torch.Tensor, radius: int) -> torch.Tensor:
    """Flow from a softmax over the correlation of f0 with f1 in a (2r+1)^2 window; window
    positions outside f1 are excluded (GMFlow's local matching)."""
    c = f0.shape[1]
    n = 2 * radius + 1
    f1p = F.pad(f1, (radius,) * 4)
    valid = F.pad(torch.ones_like(f1[:, :1]), (radius,) * 4)
    corr, ok, dxs, dys = [], [], [], []
    for dy in range(n):
        for dx in range(n):
            corr.append((f0 * _shifted(f1p, dy, dx, radius)).sum(1, keepdim=True))
            ok.append(_shifted(valid, dy, dx, radius))
            dxs.append(dx - radius)
            dys.append(dy - radius)
    corr = torch.cat(corr, 1) / (c ** 0.5)
    ok = torch.cat(ok, 1) > 0.5
    corr = torch.where(ok, corr, torch.full_like(corr, -1e9))
    prob = torch.softmax(corr, 1)  # (B, n*n, H, W)
    offsets = torch.tensor([dxs, dys], dtype=prob.dtype).reshape(2, n * n, 1, 1)
    return F.conv2d(prob, offsets)


def _global_correlation_flow(f0: torch.Tensor, f1: torch.Tensor) -> torch.Tensor:
    """Bidirectional flow from a softmax over the global correlation: returns (2B, 2, H, W),
    F01 for the first B items, F10 for the last B."""
    b, c, h, w = f0.shape
    corr = torch.matmul(f0.flatten(2).transpose(1, 2), f1.flatten(2)) / (c ** 0.5)  # (B, HW, HW)
    corr = torch.cat((corr, corr.transpose(1, 2)), 0)
    xs, ys = pixel_grid(f0[:1])
    gx = xs.expand(1, 1, h, w)
    gy = ys.expand(1, 1, h, w)
    grid = torch.cat((gx, gy), 1)  # (1, 2, H, W)
    corresp = torch.matmul(torch.softmax(corr, -1), grid.flatten(2).transpose(1, 2))  # (2B, HW, 2)
    return corresp.transpose(1, 2).reshape(2 * b, 2, h, w) - grid


class GMFlow(nn.Module):
    """GMFlow (2 scales: global matching at 1/8 with 2x2 attention windows, local matching
    radius 4 at 1/4 with 8x8 windows, convex upsampling x4), bidirectional.

    forward(img0, img1): float32 (N, 3, H, W) RGB in [0, 1], H and W multiples of 32.
    Returns float32 (2N, 2, H, W): the optical flows img0 -> img1 (first N) and img1 ->
    img0 (last N), in pixels, x then y.
    """

    def __init__(self):
        super().__init__()
        self.backbone = _Backbone()
        self.transformer = _Transformer()
        self.feature_flow_attn = _FlowAttention()
        self.upsampler = nn.Sequential(nn.Conv2d(130, 256, 3, 1, 1), nn.ReLU(), nn.Conv2d(256, 144, 1))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.pos = _Position()

    def upsample(self, flow, feat):
        b, _, h, w = flow.shape
        mask = self.upsampler(torch.cat((flow, feat), 1)).reshape(b, 1, 9, 4, 4, h, w)
        mask = torch.softmax(mask, 2)
        fp = F.pad(4 * flow, (1, 1, 1, 1))
        win = torch.stack([_shifted(fp, dy, dx, 1) for dy in range(3) for dx in range(3)], 2)  # (B, 2, 9, H, W)
        up = (mask * win.reshape(b, 2, 9, 1, 1, h, w)).sum(2)  # (B, 2, 4, 4, H, W)
        return up.permute(0, 1, 4, 2, 5, 3).reshape(b, 2, 4 * h, 4 * w)

    def forward(self, img0, img1):
        n = img0.shape[0]
        x = (torch.cat((img0, img1), 0) - self.mean) / self.std
        hi, lo = self.backbone(x)
        # scale 0: 1/8, global matching and propagation, both directions at once
        f0, f1 = _add_position(self.pos, lo[:n], lo[n:], 2)
        f0, f1 = self.transformer(f0, f1, 2)
        flow = _global_correlation_flow(f0, f1)
        flow = self.feature_flow_attn(torch.cat((f0, f1), 0), flow, radius=-1)
        # scale 1: 1/4, local matching (radius 4) and 3x3 propagation, batch (01, 10)
        flow = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2
        f0 = hi
        f1 = sample_zeros(torch.cat((hi[n:], hi[:n]), 0), flow)
        f0, f1 = _add_position(self.pos, f0, f1, 8)
        f0, f1 = self.transformer(f0, f1, 8)
        flow = flow + _local_correlation_flow(f0, f1, 4)
        flow = self.feature_flow_attn(f0, flow, radius=1)
        return self.upsample(flow, f0)

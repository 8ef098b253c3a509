"""vsvfi.overlay_motion: the background under an overlay read from the other frame along the
pair's motion, by construction on a textured background moving by a known shift."""

import numpy as np
import pytest
from scipy import ndimage

from vsvfi import overlay_motion as om
from vsvfi import neighbourhood, protect

SHIFT = (0, 10)  # I1(x + v) = I0(x): the background moves 10 px to the right
SHIFTS = [SHIFT, (-SHIFT[0], -SHIFT[1])]


def background(h=48, w=96, seed=3):
    """A smooth random texture wider than the frame, and the frame at time t (pairs): the
    window that makes content at x at t = 0 sit at x + t v."""
    rng = np.random.default_rng(seed)
    wide = ndimage.gaussian_filter(rng.random((3, h, w + 40)), (0, 1.5, 1.5)).astype(np.float32)
    wide = (wide - wide.min()) / (wide.max() - wide.min())

    def at(t):
        x0 = 20 - round(t * SHIFT[1])
        return np.ascontiguousarray(wide[:, :, x0:x0 + w])

    return at


def test_paint_fills_an_opaque_overlay_with_the_background_the_motion_uncovers():
    at = background()
    mask = np.zeros((48, 96), np.float32)
    mask[20:26, 40:56] = 1  # 16 px wide: the right 10 columns' background is seen in the other frame
    a, b = at(0).copy(), at(1).copy()
    a[:, mask > 0] = b[:, mask > 0] = 1.0  # a white box, static
    painted = om.paint(a, b, mask, SHIFTS, 6)
    boxed = neighbourhood.fill(a, mask, 6)
    uncovered = np.zeros_like(mask, bool)
    uncovered[20:26, 46:56] = True  # x + 10 lies outside the box in b
    np.testing.assert_allclose(painted[:, uncovered], at(0)[:, uncovered], atol=1e-6)
    np.testing.assert_array_equal(painted[:, ~uncovered], boxed[:, ~uncovered])  # hidden in both: the box fill
    assert np.abs(boxed[:, uncovered] - at(0)[:, uncovered]).max() > 0.05  # the box fill could not know
    # b's hidden background is a's at x - 10: the left 6 columns are hidden in a too
    painted_b = om.paint(b, a, mask, SHIFTS, 6)
    np.testing.assert_allclose(painted_b[:, 20:26, 40:46], at(1)[:, 20:26, 40:46], atol=1e-6)
    np.testing.assert_array_equal(om.paint(a, b, mask, [], 6), boxed)  # no motion: the box fill


def test_paint_keeps_the_box_fill_where_no_shift_carries_the_surroundings():
    mask = np.zeros((48, 96), np.float32)
    mask[20:26, 40:56] = 1
    a = background()(0)
    b = np.random.default_rng(9).random((3, 48, 96), dtype=np.float32)  # nothing explains a's surroundings
    np.testing.assert_array_equal(om.paint(a, b, mask, SHIFTS, 6), neighbourhood.fill(a, mask, 6))


def test_paint_leaves_an_overlay_in_where_its_textured_surroundings_stand_still():
    """The network drags an overlay along the motion around it; where nothing around it
    moves, the fill only misleads it (docs/protection.md, "Overlays over a still
    background stay in"). Flat surroundings show no motion either way: painted as before."""
    mask = np.zeros((48, 96), np.float32)
    mask[20:26, 40:56] = 1
    a = background()(0).copy()
    a[:, mask > 0] = 1.0
    np.testing.assert_array_equal(om.paint(a, a.copy(), mask, SHIFTS, 6), a)
    moved = background()(1).copy()
    moved[:, mask > 0] = 1.0
    assert np.abs(om.paint(a, moved, mask, SHIFTS, 6) - a)[:, mask > 0].min() > 0.05
    flat = np.full_like(a, 0.4)
    flat[:, mask > 0] = 1.0
    np.testing.assert_allclose(om.paint(flat, flat.copy(), mask, SHIFTS, 6), np.full_like(a, 0.4), atol=1e-6)


@pytest.mark.parametrize("k", [0.0, 0.4, 1.0])
def test_unmix_recovers_a_static_layer_over_a_pan(k):
    """I = P + k B on a thin layer (2 px bars: its background is seen in the other frame
    around it); the output at t = 0.5 is P + k B(0.5) wherever the fit beats the blend
    clearly, and the blend itself where k = 0 (an opaque layer: nothing to unmix)."""
    at = background()
    layer = np.zeros((48, 96), bool)
    layer[8:40, 30:32] = layer[8:40, 60:62] = True
    colour = np.array([0.9, 0.2, 0.5], np.float32)[:, None]

    def frame(t):
        img = at(t).copy()
        img[:, layer] = (1 - k) * colour + k * img[:, layer]
        return img

    a, b, mid = frame(0), frame(1), frame(0.5)
    keep = layer.astype(np.float32)
    fit = om.layers(a, b, keep, SHIFTS)
    blend = (a + b) / 2
    out = om.unmix(blend.copy(), a, b, 0.5, fit)
    if k == 0:
        assert fit is None
        np.testing.assert_array_equal(out, blend)
        return
    sure = fit.weight >= 0.999  # where I0 and I1 differ by 0.06 or more: UNMIX_GAIN
    assert sure.mean() >= 0.7 and layer[fit.ys, fit.xs].all()  # measured 0.76 (k = 0.4), 0.98 (k = 1)
    np.testing.assert_allclose(fit.k[sure], k, atol=0.03)  # |B0 - B1|² is regularised by 1e-4
    ys, xs = fit.ys[sure], fit.xs[sure]
    np.testing.assert_allclose(out[:, ys, xs], mid[:, ys, xs], atol=5e-3)  # about 1 code value: that bias
    assert np.abs(blend[:, ys, xs] - mid[:, ys, xs]).max() > 0.05  # the blend is not the answer
    # everywhere on the layer at least as close to the truth as the blend, up to that bias
    assert (np.abs(out - mid)[:, layer].max(axis=0) <= np.abs(blend - mid)[:, layer].max(axis=0) + 5e-3).all()
    np.testing.assert_array_equal(out[:, ~layer], blend[:, ~layer])


def test_unmix_leaves_the_blend_where_the_fitted_shift_does_not_carry_the_surroundings():
    """A layer that fits I = P + k B exactly under the 10 px shift, over a background that
    moves 4 px: the fit is a chance one (real footage's local motion is often none of the
    pair's dominant shifts), and the surroundings say so."""
    slow = background(seed=5)
    a, b = slow(0.4).copy(), slow(0.8).copy()  # a 4 px pan, the same texture as before
    layer = np.zeros((48, 96), bool)
    layer[8:40, 30:32] = layer[8:40, 60:62] = True
    ys, xs = np.nonzero(layer)
    colour, k = np.array([0.9, 0.2, 0.5], np.float32)[:, None], 0.6
    bg0, bg1 = b[:, ys, xs + 10].copy(), a[:, ys, xs - 10].copy()  # B0 = I1(x + v), B1 = I0(x - v)
    a[:, ys, xs], b[:, ys, xs] = (1 - k) * colour + k * bg0, (1 - k) * colour + k * bg1
    keep = layer.astype(np.float32)
    fit = om.layers(a, b, keep, SHIFTS)
    assert fit is None or fit.weight.sum() <= 0.05 * layer.sum()
    # the same pixels with the shift carrying what is around them: unmixed
    at = background(seed=5)
    a, b = at(0).copy(), at(1).copy()
    bg0, bg1 = b[:, ys, xs + 10].copy(), a[:, ys, xs - 10].copy()
    a[:, ys, xs], b[:, ys, xs] = (1 - k) * colour + k * bg0, (1 - k) * colour + k * bg1
    assert om.layers(a, b, keep, SHIFTS).weight.sum() >= 0.7 * layer.sum()


def test_unmix_is_the_frame_where_nothing_fits():
    a = background()(0)
    b = np.random.default_rng(9).random((3, 48, 96), dtype=np.float32)  # unrelated, textured
    keep = np.zeros((48, 96), np.float32)
    keep[10:20, 10:20] = 1
    fit = om.layers(a, b, keep, SHIFTS)  # no shift explains the pixels: one k fits three channels by chance only
    assert fit is None or fit.ys.size <= 0.1 * keep.sum()
    assert om.layers(a, b, keep, []) is None
    frame = np.full((3, 48, 96), 0.5, np.float16)
    assert om.unmix(frame, a, b, 0.5, None) is frame

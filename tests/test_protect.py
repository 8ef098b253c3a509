"""vsvfi.protect: the static-overlay masks and fill, against scipy.ndimage and by construction."""

from dataclasses import replace

import numpy as np
import pytest
import vapoursynth as vs
from scipy import ndimage

import vsvfi
from vsvfi import families, neighbourhood, protect
from vsvfi.families_common import array_clip
from vsvfi.frames import frame_array


P = protect.DEFAULT
PROTECT_RADIUS = P.radius
#: The protection without the growth's test for codec noise: exact agreement alone.
EXACT_ONLY = replace(P, strong=(2.0, 3.0))


def masks(a, b, params=P):
    return params.masks(a, b)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (6, 1), (2, 2), (3, 40, 9), (2, 37, 64)])
@pytest.mark.parametrize("op,reference", [(np.minimum, ndimage.minimum_filter), (np.maximum, ndimage.maximum_filter)])
def test_3x3_extremes_equal_scipy_rank_filters(shape, op, reference):
    x = np.random.default_rng(sum(shape)).random(shape, dtype=np.float32)
    size = (1,) * (x.ndim - 2) + (3, 3)
    got = protect._extreme3(x, op)
    assert got.dtype == x.dtype and np.array_equal(got, reference(x, size=size, mode="nearest"))


def test_smoothstep_ends_and_flip():
    x = np.array([0.0, 0.1, 0.2, 0.3, 0.4], np.float32)
    np.testing.assert_array_equal(protect.smoothstep(x, 0.1, 0.3)[[0, 1, 3, 4]], [0, 0, 1, 1])
    assert protect.smoothstep(x, 0.1, 0.3)[2] == pytest.approx(0.5)
    np.testing.assert_allclose(protect.smoothstep(x, 0.3, 0.1), 1 - protect.smoothstep(x, 0.1, 0.3), atol=1e-6)


def test_a_static_high_contrast_block_over_motion_is_an_overlay():
    rng = np.random.default_rng(1)
    a = rng.random((3, 64, 96), dtype=np.float32)  # everything moves ...
    b = rng.random((3, 64, 96), dtype=np.float32)
    text = np.zeros((64, 96), bool)
    text[28:32, 36:60] = True  # 4 px high: mostly moving pixels around each of its pixels
    pattern = np.indices((4, 24)).sum(0) % 2  # ... except a black-and-white checker "subtitle"
    a[:, text] = b[:, text] = np.tile(pattern.ravel().astype(np.float32), (3, 1))
    static, overlay, keep = masks(a, b)
    assert static.dtype == overlay.dtype == keep.dtype == np.float32
    assert static.shape == overlay.shape == keep.shape == (64, 96)
    assert static[text].min() == 1 and overlay[text].min() == 1 and (keep >= overlay).all()
    rim = ndimage.binary_dilation(text, np.ones((3, 3), bool))  # anti-aliased edges: 1 px
    assert static[~text].max() == 0 and masks(a, b, EXACT_ONLY)[1][~rim].max() == 0
    # the growth's test for codec noise takes in a few pixels of the random motion whose
    # difference is small against their contrast by chance: never more than 2 px out
    assert overlay[~ndimage.binary_dilation(rim, np.ones((3, 3), bool))].max() == 0
    # identical frames: all static, nothing moves around anything, so no overlay
    static, overlay, keep = masks(a, a)
    assert static.min() == 1 and overlay.max() == 0 and keep.max() == 0


def _pan_scene(shift: int, seed: int = 3, height: int = 96, width: int = 160):
    """Frames a, b of a textured picture panning ``shift`` px to the right."""
    rng = np.random.default_rng(seed)
    wide = ndimage.uniform_filter(rng.random((3, height, width + shift), dtype=np.float32), size=(1, 3, 3))
    return np.ascontiguousarray(wide[:, :, shift:]), np.ascontiguousarray(wide[:, :, :width])


def test_motion_shifts_find_a_pan_in_both_signs():
    a, b = _pan_scene(12)
    groups = protect.motion_shifts(a, b)
    assert [(0, 12)] in groups and [(0, -12)] in groups  # 160 px wide: measured at full size
    assert all(max(abs(dy), abs(dx)) >= protect.MIN_SHIFT for g in groups for dy, dx in g)
    # three times as wide, measured at a third of the size: a peak's neighbours at full size
    # go with it, and the one that matches best is picked
    big = _pan_scene(37, height=120, width=3 * protect.PEAK_WIDTH)
    groups = protect.motion_shifts(*big)
    group = next(g for g in groups if (0, 37) in g)
    assert len(group) == 9 and (0, 36) in group
    zone = np.ones(big[0].shape[1:], np.float32)
    assert (0, 37) in protect._refined(*big, zone, groups)


def test_the_inside_of_a_thick_static_letter_is_overlay_too():
    """Far from any edge the contrast test cannot see a letter; it grows in from its edges
    (a static region of 1.2 % of the frame; a larger one is not grown into)."""
    a, b = _pan_scene(12, height=192, width=320)
    letter = (slice(33, 63), slice(68, 92))  # 30 x 24 px of flat white
    a[(slice(None), *letter)] = b[(slice(None), *letter)] = 1.0
    _, overlay, _ = masks(a, b)
    assert overlay[35:61, 70:90].min() == 1  # 2 px in from its edges


def test_the_static_background_around_a_moving_object_is_not_grown_into():
    """A textured block moving 12 px over a still background: the background at its edges
    looks like an overlay seed, but the growth stops there (the network must see the
    background as it is)."""
    rng = np.random.default_rng(5)
    bg = ndimage.uniform_filter(rng.random((3, 192, 320), dtype=np.float32), size=(1, 3, 3))
    block = rng.random((3, 24, 24), dtype=np.float32)
    a, b = bg.copy(), bg.copy()
    a[:, 80:104, 100:124] = block
    b[:, 80:104, 112:136] = block
    grown = [int((protect.static_masks(a, b, replace(P, grow_area=area))[1] > 0.5).sum()) for area in (P.grow_area, 1)]
    assert grown[0] < 300 < 2000 < grown[1]  # measured 255 and 2418


def test_a_thin_static_stroke_is_an_overlay_and_chance_agreement_is_not():
    """2 px and 1 px strokes survive; single pixels or pairs that agree by chance in moving
    texture do not."""
    a, b = _pan_scene(12)
    frame = np.zeros(a.shape[1:], bool)
    frame[30:52, 40:42] = frame[30:32, 40:62] = frame[50:52, 40:62] = True  # an open 2 px box
    line = np.zeros(a.shape[1:], bool)
    line[30:52, 100] = line[30, 100:122] = line[51, 100:122] = True  # the same, 1 px wide
    a[:, frame | line], b[:, frame | line] = 1.0, 1.0
    lone, pair = (10, 130), (80, slice(10, 12))
    for where in (lone, pair):
        b[(slice(None), *where)] = a[(slice(None), *where)]
    _, overlay, _ = masks(a, b)
    assert overlay[frame].min() == 1 and overlay[line].min() == 1
    assert overlay[lone] == 0 and overlay[pair].max() == 0


def test_a_drop_shadow_gets_the_blend_and_the_moving_background_does_not():
    """A translucent black shadow (alpha 0.7, 2 px down and right of a static stroke) is
    darker than the pan says in both frames: it joins the overlay's blend; nothing else
    around changes."""
    a, b = _pan_scene(12)
    text = np.zeros(a.shape[1:], bool)
    text[30:52, 40:42] = text[30:32, 40:62] = text[50:52, 40:62] = True
    shadow = np.zeros_like(text)
    shadow[2:, 2:] = text[:-2, :-2]
    shadow &= ~text
    a[:, shadow] *= 0.3
    b[:, shadow] *= 0.3
    a[:, text], b[:, text] = 1.0, 1.0
    _, overlay, keep = masks(a, b)
    assert overlay[text].min() == 1 and keep[shadow].mean() >= 0.9
    # the darkening test alone: without the growth's test for codec noise (d small against
    # the stroke's contrast), which takes the shadow in too (measured 1.0 with it)
    shaded, unshaded = (protect.static_masks(a, b, p)[2] for p in (EXACT_ONLY, replace(EXACT_ONLY, shade=(0.0, 0.01))))
    assert shaded[shadow].mean() >= 0.9 and unshaded[shadow].mean() <= 0.7  # measured 0.94, 0.62
    assert np.array_equal(shaded[~shadow], unshaded[~shadow])
    # what gets the blend in full whatever the network says is painted out of its inputs
    # too, or the network drags the shadow along into a ghost beside the stroke
    static = protect.static_masks(a, b)[0]
    full = (keep >= P.painted) & (static == 0)
    assert full[shadow].mean() >= 0.8 and overlay[full].min() == 1  # measured 0.88
    text_only = protect.static_masks(a, b, replace(EXACT_ONLY, painted=2.0))[1]  # the text and its rim alone
    assert overlay[shadow].mean() >= 0.85 and text_only[shadow].mean() <= 0.6  # measured 0.88, 0.50


def test_static_pixels_are_never_painted_out():
    """Over a still background (a still shot with a subtitle, a logo and a running timecode
    whose digits change), the pixels that get the blend in full are static: painting them
    would show the network the fill, which the blend then cannot hide where the network
    disagrees with it (a first version lost 33 dB outside the boxes here)."""
    case = next(c for c in families.cases("overlay") if "broadcast" in c.name and " static " in c.name)
    a8, mid, b8 = (frame_array(case.clip.get_frame(k)) for k in range(3))
    a, b = (x.astype(np.float32) / 255 for x in (a8, b8))
    static, overlay, keep = masks(a, b)
    assert ((keep >= P.painted) & (static == 1)).sum() > 250  # around the changing digits (measured 328)
    text_only = protect.static_masks(a, b, replace(P, painted=2.0))[1]
    assert np.array_equal(overlay[static == 1], text_only[static == 1])
    clip = array_clip([a8, b8])
    on, off = (frame_array(vsvfi.Interpolate(clip, ratio=2, provider="cpu", protect_static=p).get_frame(1))
               for p in (True, False))
    outside = ~case.mask
    gap = np.abs(on[:, outside].astype(int) - off[:, outside])
    assert gap.max() <= 4 and gap.mean() < 0.01  # measured 2, 0.001 (code values)


def test_a_pattern_moved_by_whole_periods_is_not_an_overlay():
    """Stripes that moved by one period agree in both frames, but the pan explains them
    (all but the band's own top and bottom edges: static edges along the motion)."""
    a, b = _pan_scene(12)
    stripes = np.tile((np.arange(160 + 12) // 6 % 2).astype(np.float32), (40, 1))  # period 12 px
    a[:, 30:70] = stripes[:, 12:]
    b[:, 30:70] = stripes[:, :160]
    assert np.array_equal(a[:, 30:70], b[:, 30:70])
    static, overlay, _ = masks(a, b)
    assert static[40:60, 20:140].min() == 1 and overlay[34:66, 16:144].max() == 0  # the frame edges: no counterpart



def test_a_pattern_moved_by_whole_periods_inside_a_static_border_is_left_to_the_network():
    """A checkered region in place over a pan, its pattern moved by one period: the region's
    border is static over motion (an overlay, rightly), and the pattern beside it agrees in
    both frames. It is a large static region, so those pixels are static candidates that
    the network can overrule (it sees the pattern move), not kept whatever it says."""
    case = next(c for c in families.cases("periodic") if "checkers period 16px moves 1 period (16px horizontal)"
                in c.name and "region 320x180@160,90 over pan" in c.name)
    a8, mid, b8 = (frame_array(case.clip.get_frame(k)) for k in range(3))
    a, b = (x.astype(np.float32) / 255 for x in (a8, b8))
    static, overlay, keep = masks(a, b)
    ring = np.zeros(static.shape, bool)  # 2-6 px inside the region (rows 90-269, columns 160-479)
    ring[92:268, 162:478] = True
    ring[97:263, 167:473] = False
    assert (overlay[89:92, 158:482] > 0.5).mean() > 0.95  # the top border (measured 0.99)
    assert static[ring].min() == 1 and (keep[ring] >= P.painted).mean() < 0.03  # measured 0.005 (0.086 before)
    clip = array_clip([a8, b8])
    on, off = (frame_array(vsvfi.Interpolate(clip, ratio=2, provider="cpu", protect_static=p).get_frame(1))
               for p in (True, False))
    mse = [np.mean((x.astype(float) - mid) ** 2) for x in (on, off)]
    assert 10 * np.log10(mse[1] / mse[0]) >= 0.6  # measured +0.90 dB over protection off (was -0.60)

def test_chance_agreements_beside_a_moving_face_are_not_seeds(carphone):
    """carphone frames 42 and 44 (a blink, the head turning, in front of the still car): face
    pixels that agree exactly by chance, next to faint static edges, made fractional seeds
    whose surroundings got 45 % of the blend over the eye: 0.72 dB below protection off.
    Seeds now need the static edges across and along in full (docs/protection.md,
    "Fractional seeds"): measured 0.22 dB below off, nothing kept over the eye."""
    rgb = carphone.resize.Bicubic(format=vs.RGB24, matrix_in_s="170m")
    a8, mid, b8 = (frame_array(rgb.get_frame(i)) for i in (42, 43, 44))
    _, _, keep = masks(*(x.astype(np.float32) / 255 for x in (a8, b8)))
    assert keep[47:60, 104:118].max() == 0  # the eye (up to 0.45 before)
    on, off = (frame_array(vsvfi.Interpolate(array_clip([a8, b8]), ratio=2, provider="cpu", protect_static=p)
                           .get_frame(1)) for p in (True, False))
    mse = [np.mean((x.astype(float) - mid) ** 2) for x in (on, off)]
    assert 10 * np.log10(mse[1] / mse[0]) >= -0.35


def test_fill_replaces_only_masked_pixels_by_their_unmasked_neighbourhood():
    rng = np.random.default_rng(2)
    img = rng.random((3, 40, 50), dtype=np.float32)
    mask = np.zeros((40, 50), np.float32)
    mask[20, 25] = 1
    out = neighbourhood.fill(img, mask, PROTECT_RADIUS)
    keep = mask == 0
    assert out.dtype == img.dtype and np.array_equal(out[:, keep], img[:, keep])
    r = PROTECT_RADIUS
    window = img[:, 20 - r:21 + r, 25 - r:26 + r].reshape(3, -1)
    expected = (window.sum(1) - img[:, 20, 25]) / (window.shape[1] - 1)
    np.testing.assert_allclose(out[:, 20, 25], expected, rtol=1e-5)
    half = neighbourhood.fill(img.astype(np.float16), mask, r)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half[:, 20, 25], expected, atol=2e-3)


def _overlay_scene(h, w, seed=0):
    """A noise frame moving 5 px right (no pixel static by chance), with static checkered
    blocks (overlays) at places that straddle strip and tile borders, the frame edges included."""
    rng = np.random.default_rng(seed)
    big = rng.random((3, h, w + 5), np.float32)
    a, b = big[:, :, 5:].copy(), big[:, :, :w].copy()
    check = (np.indices((12, 20)).sum(0) % 2).astype(np.float32)
    tile = neighbourhood.TILE
    for y, x in ((0, 0), (protect.STRIP_ROWS - 6, tile - 10), (h - 12, w - 20), (2 * protect.STRIP_ROWS - 3, 7)):
        a[:, y:y + 12, x:x + 20] = check
        b[:, y:y + 12, x:x + 20] = check
    return a, b


def test_strips_and_tiles_equal_one_pass_over_the_frame():
    """static_masks in strips and fill in tiles give what one pass over the whole frame gives."""
    h, w = 3 * protect.STRIP_ROWS + 17, 5 * neighbourhood.TILE + 9
    a, b = _overlay_scene(h, w)
    static, overlay, keep = masks(a, b)
    s1, o1, k1 = protect._masks_from(a, b, *protect._static_masks(a, b, P), P)[:3]
    for got, want in ((static, s1), (overlay, o1), (keep, k1)):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert (overlay > 0.5).sum() > 100 and (overlay > 0).mean() < 0.25  # overlays found, tiles used
    for img in (a, a.astype(np.float16)):
        got = neighbourhood.fill(img, overlay, PROTECT_RADIUS)
        want = neighbourhood._fill(img, overlay, PROTECT_RADIUS)
        assert got.dtype == img.dtype
        np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=1e-6)
    # a mostly masked frame takes the one-pass route: the same result
    dense = np.ones((h, w), np.float32)
    dense[::7, ::5] = 0
    np.testing.assert_array_equal(neighbourhood.fill(a, dense, PROTECT_RADIUS),
                                  neighbourhood._fill(a, dense, PROTECT_RADIUS))


def test_seeds_on_tiles_equal_one_pass_where_the_tiles_are():
    """The see-through seeds' search runs on the tiles around the pixels it may seed
    (neighbourhood.on_tiles): the seeds there equal those of one pass over the frame, at
    blocks beside tile borders and the frame's edges, and the other tiles stay 0."""
    h, w = 3 * protect.STRIP_ROWS + 17, 5 * neighbourhood.TILE + 9
    a, b = _overlay_scene(h, w)
    exact = protect._static_masks(a, b, P)[2]
    spread = neighbourhood.range3(a)
    where = np.zeros((h, w), np.float32)
    where[:12, :20] = where[h - 12:, w - 20:] = where[70:80, 60:70] = 1
    want = protect._seeds(a, b, exact, spread, P)
    got = neighbourhood.on_tiles(lambda s: protect._seeds(a[(slice(None), *s)], b[(slice(None), *s)], exact[s],
                                                           spread[s], P), where, protect.seeds_reach(P))
    near = neighbourhood.on_tiles(lambda s: np.ones((s[0].stop - s[0].start, s[1].stop - s[1].start)), where, 0)
    np.testing.assert_allclose(got[near > 0], want[near > 0], atol=1e-6)
    assert (want[near > 0] > 0.5).sum() > 100 and not got[near == 0].any() and (near == 0).mean() > 0.5


def test_the_motion_test_on_runs_of_columns_equals_one_span():
    """The motion test works on the runs of zone columns of each strip (with RUN_MARGIN
    columns more each side) instead of one span from the first zone column to the last: on
    every zone pixel it gives what the one span gives, for zone blobs far apart, close
    together and at the frame's edges."""
    h, w = 2 * protect.STRIP_ROWS + 9, 900
    a, b = _pan_scene(7, height=h, width=w)
    exact = np.zeros((h, w), np.float32)
    exact[::3, ::4] = 1  # some exactly static pixels for the along-the-motion test
    zone = np.zeros((h, w), np.float32)
    for y, x in ((5, 3), (40, 300), (60, 340), (90, 870), (120, 600), (128, 630)):  # far, near, edges
        zone[max(0, y - 12):y + 12, max(0, x - 12):x + 12] = 1
    shifts = [(0, 7), (0, -7), (3, 5)]
    got = protect._unexplained(a, b, zone, exact, shifts, P)
    for y0 in range(0, h, protect.STRIP_ROWS):
        y1 = min(h, y0 + protect.STRIP_ROWS)
        cols = np.nonzero(zone[y0:y1].any(axis=0))[0]
        x0, x1 = cols[0], cols[-1] + 1
        want = protect._unexplained_span(a, b, exact, shifts, P, y0, y1, x0, x1)
        inside = zone[y0:y1, x0:x1] > 0
        np.testing.assert_array_equal(got[y0:y1, x0:x1][inside], want[inside])
    assert (got[zone > 0] < 1).any() and (got[zone > 0] == 1).any()  # the pan explains some, not all

"""Generated test-case families (vsvfi.families): shapes, exact middles, real cuts, static
overlay pixels and repeating patterns, checked against the decoded source frames."""

import math
import re
import time
from collections import Counter

import numpy as np
import pytest
import vapoursynth as vs

from vsvfi import families
from vsvfi.families_common import array_clip, parse_shot
from vsvfi.families_motion import BIKES_CUTS
from vsvfi.frames import frame_array

core = vs.core


@pytest.fixture(scope="module")
def quick():
    t0 = time.perf_counter()
    out = families.cases(quick=True)
    print(f"\nquick families: {len(out)} cases built in {time.perf_counter() - t0:.2f} s")
    return out


def of(cases, family):
    return [c for c in cases if c.family == family]


def frames(case):
    """[a, middle, b] as (3, H, W) uint8."""
    return [frame_array(case.clip.get_frame(i)) for i in range(3)]


def luma_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |luma difference| (0..1) of 320-px-wide BT.709 luma thumbnails of two (3, H, W)
    uint8 frames (the plain scene-change measure)."""
    clip = array_clip([a, b])
    h = max(2, round(clip.height * min(320, clip.width) / clip.width))
    g = core.resize.Bilinear(clip, min(320, clip.width), h, format=vs.GRAYS, matrix_s="709", range_s="full")
    return float(np.abs(np.asarray(g.get_frame(0)[0]) - np.asarray(g.get_frame(1)[0])).mean())


def test_every_family_has_quick_cases_and_names_are_unique(quick):
    counts = Counter(c.family for c in quick)
    assert set(counts) == set(families.FAMILIES) and min(counts.values()) >= 3, counts
    assert 40 <= len(quick) <= 60
    names = [c.name for c in quick]
    assert len(set(names)) == len(names)
    full = families.cases()
    assert len({c.name for c in full}) == len(full) > 3 * len(quick)
    assert families.cases("zoom", quick=True)[0].name == of(quick, "zoom")[0].name
    with pytest.raises(ValueError, match="unknown family"):
        families.cases("nope")


def test_clips_are_three_rgb24_frames_of_the_stated_size(quick):
    for c in quick:
        assert c.clip.format.id == vs.RGB24 and c.clip.num_frames == 3, c.name
        size = re.search(r" w(\d+)", c.name)
        if size:
            assert c.clip.width == int(size.group(1)), c.name
        for i in range(3):
            f = c.clip.get_frame(i)
            assert (f.width, f.height) == (c.clip.width, c.clip.height)
        assert (c.mask is not None) == (c.family == "overlay")
        assert c.cut == (c.family == "cut") and c.motion >= 0
        assert c.truth or c.family in ("cut", "flash")


def test_pans_and_shakes_middle_is_the_window_at_half_the_displacement(quick):
    moving = [c for c in quick if c.family in ("pan", "large-motion", "shake")]
    assert any(c.clip.width == 1280 and "240px" in c.name for c in moving)
    for c in moving:
        shot = parse_shot(c.name)
        w, h = c.clip.width, c.clip.height
        img = shot.image()
        a, m, b = frames(c)
        for got, t in ((a, 0), (m, 0.5), (b, 1)):
            x, y = shot.x + int(t * shot.dx), shot.y + int(t * shot.dy)
            assert np.array_equal(got, img[:, y:y + h, x:x + w]), (c.name, t)
        assert c.motion == pytest.approx(math.hypot(shot.dx, shot.dy))
        if c.family != "shake":
            d = int(re.search(r" (\d+)px", c.name).group(1))
            assert max(abs(shot.dx), abs(shot.dy)) == d and min(shot.dx % 2, shot.dy % 2) == 0
        else:
            assert 8 <= min(abs(shot.dx), abs(shot.dy)) and max(abs(shot.dx), abs(shot.dy)) <= 40


def test_bikes_cuts_are_the_pairs_the_luma_difference_separates(sample):
    clip = core.bs.VideoSource(sample("bikes"))
    g = core.resize.Bilinear(core.std.ShufflePlanes(clip, 0, vs.GRAY), 320, 136, format=vs.GRAYS,
                             range_in_s="limited", range_s="full")
    luma = [np.asarray(g.get_frame(i)[0]).copy() for i in range(clip.num_frames)]
    values = np.array([np.abs(x - y).mean() for x, y in zip(luma, luma[1:])])
    top = tuple(sorted(np.argsort(values)[-len(BIKES_CUTS):]))
    assert top == BIKES_CUTS
    assert values[list(BIKES_CUTS)].min() > 2 * np.delete(values, list(BIKES_CUTS)).max()


def test_cuts_are_different_shots(quick):
    cuts = of(quick, "cut")
    assert sum("similar palette" in c.name for c in cuts) >= 2
    for c in cuts:
        a, m, b = frames(c)
        assert np.array_equal(a, m) and c.cut and not c.truth and c.motion == 0
        v = luma_difference(a, b)
        print(f"{c.name}: luma difference {v:.3f}")
        if "similar palette" not in c.name:
            assert v > 0.12, (c.name, v)
        else:
            assert v > 0.01, (c.name, v)  # not the same picture


def _expected_fade(name: str, w: int, h: int, t: float) -> np.ndarray:
    """The mix at dissolve/fade time ``t`` (pairs) computed from the shots in ``name``."""
    shots = [parse_shot(part) for part in name.split(" > ")]
    windows = [s.image()[:, s.y + int(t * s.dy):s.y + int(t * s.dy) + h, s.x + int(t * s.dx):s.x + int(t * s.dx) + w]
               .astype(np.float64) for s in shots]
    w = t / 10 if " from black " not in name else 1 - t / 10
    other = windows[1] if name.startswith("dissolve") else 255.0 if " to white " in name else 0.0
    return np.rint((1 - w) * windows[0] + w * other).astype(np.uint8)


def test_fades_middle_is_the_exact_mix_at_the_half_step(quick):
    fades = of(quick, "fade")
    assert {"dissolve", "to black", "from black", "to white"} <= {
        k for c in fades for k in ("dissolve", "to black", "from black", "to white") if k in c.name}
    for c in fades:
        k = int(re.search(r" (\d)/10 ", c.name).group(1))
        got = frames(c)
        for f, t in zip(got, (k, k + 0.5, k + 1)):
            assert np.array_equal(f, _expected_fade(c.name, c.clip.width, c.clip.height, t)), (c.name, t)
        if c.motion == 0:  # still pictures: the middle is the mean of a and b (within rounding)
            a, m, b = (x.astype(np.int16) for x in got)
            assert np.abs(2 * m - a - b).max() <= 2


def test_overlay_pixels_stay_put_and_masks_cover_them(quick):
    overlays = [c for c in of(quick, "overlay") if "x264" not in c.name]
    assert any("timecode" in c.name for c in overlays) and any("static" in c.name for c in overlays)
    for c in overlays:
        a, m, b = frames(c)
        mask, opaque = c.mask, c.opaque
        assert mask.shape == opaque.shape == (c.clip.height, c.clip.width)
        assert 0 < mask.mean() < 0.4 and not (opaque & ~mask).any(), c.name
        assert np.array_equal(a[:, opaque], b[:, opaque]) and np.array_equal(a[:, opaque], m[:, opaque])
        if "logos" not in c.name:  # text: most glyph and outline pixels are opaque
            assert opaque.sum() > 200, c.name
        if "timecode" in c.name:  # the digits change inside the mask
            assert (a != b)[:, mask & ~opaque].any() and not (a != b)[:, opaque].any()
        if re.search(r" (pan|static|shake) ", c.name):  # outside the mask: the background window
            shot = parse_shot(c.name)
            for f, t in ((a, 0), (m, 0.5), (b, 1)):
                assert np.array_equal(f[:, ~mask], shot.window(t, c.clip.width, c.clip.height)[:, ~mask]), c.name
        if c.motion > 0:
            assert (a != b)[:, ~mask].any(0).mean() > 0.5, c.name


def _region(name: str, w: int, h: int):
    r = re.search(r"region (\d+)x(\d+)@(\d+),(\d+)", name)
    if not r:
        return slice(0, h), slice(0, w)
    rw, rh, x, y = map(int, r.groups())
    return slice(y, y + rh), slice(x, x + rw)


def test_periodic_patterns_repeat_at_whole_periods(quick):
    cases = of(quick, "periodic")
    assert {"stripes", "checkers", "tiled"} <= {c.name.split()[1] for c in cases}
    assert any("full frame" in c.name for c in cases) and any("region" in c.name for c in cases)
    for c in cases:
        f = float(re.search(r"moves ([\d.]+) period", c.name).group(1))
        period = int(re.search(r"period (\d+)px", c.name).group(1))
        ys, xs = _region(c.name, c.clip.width, c.clip.height)
        a, m, b = (x[:, ys, xs].astype(np.int16) for x in frames(c))
        assert np.array_equal(a, b) == (f in (1, 2)), c.name
        if f == 1 and "tiled" not in c.name:  # half a period later the pattern is inverted
            assert (a != m).any(0).mean() > 0.5, c.name
        if c.name.split()[1] == "stripes":  # the middle is a shifted by d / 2 (area-sampled)
            half = f * period / 2
            lo, hi = math.floor(half), math.ceil(half)
            row, width = a[0, 0], a.shape[2]
            want = (row[hi - lo:width - lo] + row[:width - hi]) / 2  # mean of the shifts by lo and hi
            assert np.abs(m[0, 0, hi:] - want).max() <= 1, c.name


def test_flash_middle_lies_between_a_and_b(quick):
    for c in of(quick, "flash"):
        a, m, b = (x.astype(np.int16) for x in frames(c))
        if c.motion == 0:
            assert (m >= np.minimum(a, b) - 1).all() and (m <= np.maximum(a, b) + 1).all(), c.name
        assert c.truth == ("flash white" not in c.name)


def test_encoded_overlay_cases_are_the_clean_ones_through_x264(quick):
    """a and b carry codec noise, also on the static overlay (which is what defeats a test of
    exact agreement); the middle frame stays the clean truth."""
    overlays = of(quick, "overlay")
    clean = {c.name: c for c in overlays if "x264" not in c.name}
    encoded = [c for c in overlays if "x264" in c.name]
    assert len(encoded) == 4 and {c.name.rsplit(" crf", 1)[1] for c in encoded} == {"18", "23"}
    for c in encoded:
        base = clean[c.name.rsplit(" x264 ", 1)[0]]
        (a, m, b), (ca, cm, cb) = frames(c), frames(base)
        assert np.array_equal(m, cm) and np.array_equal(c.mask, base.mask), c.name
        for x, y in ((a, ca), (b, cb)):
            err = np.abs(x.astype(int) - y)
            assert 0 < err.mean() < 4 and err.max() > 16, c.name  # close, but not the same picture
        if c.opaque.sum() > 200 and c.motion > 0:  # text over motion (logos: semi-transparent; still: skipped)
            noise = np.abs(a.astype(int) - b)[:, c.opaque].max(0)
            assert (noise > 2).mean() >= 0.2 and noise.max() >= 10, c.name
        assert np.array_equal(frames(c)[0], a), c.name  # the same bytes again

"""The overlay family of :mod:`vsvfi.families`: static overlays (text, logos, a running
timecode) drawn at the same place on a, middle and b over a moving or static real
background, for tuning the static-overlay protection.

An overlay is made of layers: (x, y, colour, alpha) with colour float (3, h, w) in code
values and alpha float (h, w) in [0, 1], placed with their top-left at (x, y). The layers
of a frame are flattened ("over", in order) into one RGB24 colour and one 8-bit alpha,
merged onto the background with ``std.MaskedMerge``: where the alpha is 255 the output
is the overlay colour exactly.

Every case also comes encoded: a and b through x264 (:func:`x264`, CRF 18 or 23 by
background), the middle frame left clean. Real overlays reach the filter through a codec,
whose noise and ringing make static text differ between the frames (by up to 9-32/255 on
the text sets over a pan at CRF 18, 99th percentile; docs/protection.md).
"""

from __future__ import annotations

import subprocess
from functools import lru_cache

import numpy as np
import vapoursynth as vs
from scipy import ndimage

from .families_common import Case, array_clip, centred, fit, image, lazy_clip
from .families_motion import pan_case, shake_vectors, zoom_clip, zoom_motion
from .frames import frame_array

core = vs.core

Layer = tuple[int, int, np.ndarray, np.ndarray]


def _gray_resize(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    """Float (h, w) ``arr`` resampled (zimg Spline36, float) to (height, width), clipped to [0, 1]."""
    clip = array_clip([arr[None].astype(np.float32)], fmt=vs.GRAYS)
    return np.clip(frame_array(core.resize.Spline36(clip, width, height).get_frame(0))[0], 0, 1).astype(np.float64)


@lru_cache(maxsize=None)
def text_alpha(texts: tuple[str, ...], height: int, smooth: bool = True) -> tuple[np.ndarray, ...]:
    """Alpha (float (h, w) in [0, 1]) of each string of ``texts`` in ``core.text``'s font,
    all cut to the box around all of them (so strings of one length line up).

    ``smooth``: drawn 6x larger and resampled so the box is ``height`` px tall (anti-aliased
    edges, width in proportion); else the bitmap font at the integer scale nearest to
    ``height`` / 10 (hard edges; the box is then about 10 px per scale step)."""
    s = 6 if smooth else max(1, round(height / 10))
    blank = core.std.BlankClip(format=vs.GRAY8, width=(max(map(len, texts)) + 6) * 8 * s, height=max(64, 24 * s),
                               color=0, length=1)
    bits = [np.asarray(core.text.Text(blank, t, alignment=7, scale=s).get_frame(0)[0]) >= 128 for t in texts]
    ys, xs = np.nonzero(np.logical_or.reduce(bits))
    crops = [b[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float64) for b in bits]
    if not smooth:
        return tuple(crops)
    bh, bw = crops[0].shape
    return tuple(_gray_resize(c, max(1, round(bw * height / bh)), height) for c in crops)


def _disk(r: int) -> np.ndarray:
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return xx * xx + yy * yy <= r * r + r


def _solid(colour, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(colour, np.float64)[:, None, None], (3, *shape))


def text_layers(texts: tuple[str, ...], height: int, colour, outline: int = 0, shadow: int = 0,
                smooth: bool = True, opacity: float = 1.0, box: float = 0.0,
                outline_colour=(0, 0, 0)) -> list[list[Layer]]:
    """Layers of a text element, one list per string of ``texts`` (frames a, middle, b;
    a single string serves all three), top-left at (0, 0): an optional black box of alpha
    ``box`` 4 px around, a black drop shadow (offset ``shadow`` px, alpha 0.7), an outline
    ``outline`` px wide in ``outline_colour``, the glyphs in ``colour``; every alpha times
    ``opacity``."""
    alphas = text_alpha(tuple(texts), height, smooth)
    pad = outline + shadow + (4 if box else 0)
    frames = []
    for a in alphas:
        a = np.pad(a, pad)
        layers = []
        if box:
            layers.append((0, 0, _solid((0, 0, 0), a.shape), np.full(a.shape, box * opacity)))
        if shadow:
            sh = np.zeros_like(a)
            sh[shadow:, shadow:] = (ndimage.grey_dilation(a, footprint=_disk(outline)) if outline else a)[:-shadow, :-shadow]
            layers.append((0, 0, _solid((0, 0, 0), a.shape), 0.7 * opacity * sh))
        if outline:
            layers.append((0, 0, _solid(outline_colour, a.shape), opacity * ndimage.grey_dilation(a, footprint=_disk(outline))))
        layers.append((0, 0, _solid(colour, a.shape), opacity * a))
        frames.append(layers)
    return frames * 3 if len(frames) == 1 else frames


def patch_layers(patch: np.ndarray, opacity: float) -> list[list[Layer]]:
    """A logo: the real ``patch`` (3, h, w) uint8 at alpha ``opacity``, same on all frames."""
    return [[(0, 0, patch.astype(np.float64), np.full(patch.shape[1:], opacity))]] * 3


def place(element: list[list[Layer]], width: int, height: int, anchor: str, margin: int) -> list[list[Layer]]:
    """``element`` moved to ``anchor`` ("top", "bottom", "top-left", "bottom-right", ...,
    "right") of a width x height frame, ``margin`` px from the edges."""
    ew = max(x + a.shape[1] for layers in element for x, _, _, a in layers)
    eh = max(y + a.shape[0] for layers in element for _, y, _, a in layers)
    x = margin if "left" in anchor else width - ew - margin if "right" in anchor else (width - ew) // 2
    y = margin if "top" in anchor else height - eh - margin if "bottom" in anchor else (height - eh) // 2
    return [[(lx + x, ly + y, c, a) for lx, ly, c, a in layers] for layers in element]


def flatten(elements: list[list[list[Layer]]], width: int, height: int):
    """(colour uint8 (3, 3, H, W), alpha uint8 (3, 1, H, W), mask bool (H, W)) of placed
    ``elements`` for frames a, middle, b: layers composited "over" in order; ``mask`` is the
    union of each element's box (where any of its alphas is non-zero) grown by 2 px."""
    colours, alphas = [], []
    mask = np.zeros((height, width), bool)
    for i in range(3):
        c, a = np.zeros((3, height, width)), np.zeros((height, width))
        for element in elements:
            for x, y, lc, la in element[i]:
                region = (slice(y, y + la.shape[0]), slice(x, x + la.shape[1]))
                c[(slice(None), *region)] = lc * la + c[(slice(None), *region)] * (1 - la)
                a[region] = la + a[region] * (1 - la)
        colours.append(np.clip(np.rint(c / np.maximum(a, 1e-9)), 0, 255).astype(np.uint8))
        alphas.append(np.rint(a * 255).astype(np.uint8)[None])
    for element in elements:
        seen = np.zeros((height, width), bool)
        for layers in element:
            for x, y, _, la in layers:
                seen[y:y + la.shape[0], x:x + la.shape[1]] |= la > 0
        ys, xs = np.nonzero(seen)
        if len(ys):
            mask[max(0, ys.min() - 2):ys.max() + 3, max(0, xs.min() - 2):xs.max() + 3] = True
    return np.stack(colours), np.stack(alphas), mask


def _overlay_sets(w: int, h: int) -> dict:
    """Named overlay sets for a w x h frame: name -> list of placed elements."""
    logo_a = fit(image("carphone_pristine", 60), 96, 78)
    logo_b = fit(image("bikes", 70)[:, 40:200, 300:540], 120, 80)
    tc = ("00:00:04:16", "00:00:04:17", "00:00:04:18")
    return {
        "white 32px subtitle outline": [
            place(text_layers(("Where are you going?",), 32, (255, 255, 255), outline=2), w, h, "bottom", 20)],
        "yellow 24px subtitle shadow": [
            place(text_layers(("Follow the bikes, not the cars.",), 24, (255, 230, 40), shadow=3), w, h, "bottom", 16)],
        "black 48px caption white outline": [
            place(text_layers(("BREAKING 24",), 48, (0, 0, 0), outline=3, outline_colour=(255, 255, 255)),
                  w, h, "top", 14)],
        "patch logos alpha 0.5 and 0.8": [place(patch_layers(logo_a, 0.5), w, h, "top-right", 12),
                                          place(patch_layers(logo_b, 0.8), w, h, "bottom-left", 2)],
        "text logos alpha 0.3 and 0.6": [
            place(text_layers(("vsvfi TV",), 40, (255, 255, 255), outline=1, opacity=0.3), w, h, "right", 24),
            place(text_layers(("HD",), 28, (255, 220, 0), outline=2, opacity=0.6), w, h, "top-left", 10)],
        "white 14px labels at the edges": [
            place(text_layers((label,), 14, (255, 255, 255), outline=1), w, h, anchor, 2)
            for label, anchor in (("CAM 1", "top-left"), ("REC", "top-right"), ("12.5 fps", "bottom-left"),
                                  ("ch 04", "bottom-right"))],
        "running timecode bitmap 20px": [
            place(text_layers(tc, 20, (255, 255, 255), smooth=False, box=0.6), w, h, "top-left", 8)],
        "broadcast subtitle logo timecode": [
            place(text_layers(("Still drawn over the motion",), 20, (255, 255, 255), outline=1, shadow=2), w, h,
                  "bottom", 30),
            place(patch_layers(logo_a, 0.6), w, h, "top-right", 6),
            place(text_layers(("00:09:59:48", "00:09:59:49", "00:10:00:00"), 16, (255, 255, 0), outline=1),
                  w, h, "bottom-right", 2)],
    }


def _backgrounds(w: int, h: int) -> list[tuple[str, vs.VideoNode, float]]:
    """(label, 3-frame RGB24 clip, motion px) of the real backgrounds, w x h."""
    pans = [("pan 24px horizontal", ("bigbuckbunny", 50, 1, 24, 0)),
            ("pan 32x32px diagonal", ("bigbuckbunny", 80, 1, 32, 32)),
            ("pan 40px vertical", ("bikes", 160, 2, 0, -40)),
            ("pan 56px horizontal", ("bigbuckbunny", 110, 1, -56, 0)),
            ("pan 48x24px diagonal", ("bigbuckbunny", 125, 1, 48, -24))]
    out = []
    for label, (stem, n, scale, dx, dy) in pans:
        c = pan_case("overlay", label, centred(stem, n, scale, w, h, dx, dy), w, h)
        out.append((c.name.removeprefix("overlay "), c.clip, c.motion))
    out.append(("zoom in 10% bigbuckbunny#30", zoom_clip("bigbuckbunny", 30, 1, w, h, 1.1, (0.4, 0.6)),
                zoom_motion(w, h, 1.1)))
    still = centred("bigbuckbunny", 15, 1, w, h)
    out.append((f"static {still}", pan_case("overlay", "", still, w, h).clip, 0.0))
    dx, dy = shake_vectors(1, seed=5)[0]
    c = pan_case("overlay", "", centred("bigbuckbunny", 65, 1, w, h, dx, dy), w, h)
    out.append((f"shake {abs(dx)}x{abs(dy)}px{c.name.removeprefix('overlay ')}", c.clip, c.motion))
    return out


#: CRF of the encoded cases, by background (backgrounds 0-1, 4-5 and 2-3, 6-7): about what
#: sources and good web video use.
X264_CRF = (18, 23)


def x264(frames: list[np.ndarray], crf: int) -> list[np.ndarray]:
    """RGB24 ``frames`` (uint8 (3, H, W), even H and W) as they come back from x264 (4:2:0,
    BT.709 limited range by zimg, ``crf``, preset medium, one thread: the same bytes on every
    run), decoded by ffmpeg. Raises RuntimeError without an ffmpeg that has libx264."""
    h, w = frames[0].shape[1:]
    yuv = core.resize.Bicubic(array_clip(frames), format=vs.YUV420P8, matrix_s="709", range_s="limited")
    raw = b"".join(np.asarray(f[p]).tobytes() for f in yuv.frames() for p in range(3))
    size = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}"]
    try:
        enc = subprocess.run(["ffmpeg", "-v", "error", *size, "-i", "-", "-c:v", "libx264", "-crf", str(crf),
                              "-preset", "medium", "-threads", "1", "-f", "h264", "-"],
                             input=raw, capture_output=True, check=True).stdout
        dec = subprocess.run(["ffmpeg", "-v", "error", "-f", "h264", "-i", "-", *size, "-"],
                             input=enc, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError(f"the encoded overlay cases need ffmpeg with libx264: {e}") from e
    def planes(n: int) -> list[np.ndarray]:  # frame n of the decoded 4:2:0 stream
        at = n * h * w * 3 // 2
        y = np.frombuffer(dec, np.uint8, h * w, at).reshape(h, w)
        u, v = (np.frombuffer(dec, np.uint8, h * w // 4, at + h * w * (4 + k) // 4).reshape(h // 2, w // 2)
                for k in (0, 1))
        return [y, u, v]

    decoded = lazy_clip(planes, w, h, len(frames), fmt=vs.YUV420P8)
    rgb = core.resize.Bicubic(decoded, format=vs.RGB24, matrix_in_s="709", range_in_s="limited")
    return [frame_array(f) for f in rgb.frames()]


def overlay_cases(quick: bool) -> list[Case]:
    """Each overlay set over each background (640x360), clean and encoded (:func:`x264`);
    quick: set i over background i, and encoded for even i. ``mask``: the overlays' boxes
    grown by 2 px; ``opaque``: overlay pixels identical on a, middle and b (alpha 255 on all
    three and the same colour; on the encoded cases, as built before the codec)."""
    w, h = 640, 360
    sets = _overlay_sets(w, h)
    backgrounds = _backgrounds(w, h)
    combos = [(s, b) for s in range(len(sets)) for b in range(len(backgrounds))]
    if quick:
        combos = [(i, i) for i in range(min(len(sets), len(backgrounds)))]
    flat = {name: flatten(elements, w, h) for name, elements in sets.items()}
    names = list(sets)
    out = []
    for s, b in combos:
        colour, alpha, mask = flat[names[s]]
        label, bg, motion = backgrounds[b]
        clip = core.std.MaskedMerge(bg, array_clip(colour), array_clip(alpha, fmt=vs.GRAY8), first_plane=True)
        opaque = (alpha[:, 0] == 255).all(0) & (colour == colour[0]).all((0, 1))
        name = f"overlay {names[s]} over {label} w{w}"
        out.append(Case("overlay", name, clip, cut=False, motion=motion, mask=mask, opaque=opaque))
        if not quick or s % 2 == 0:
            crf = X264_CRF[b // 2 % 2]
            a, mid, b_ = (frame_array(clip.get_frame(k)) for k in range(3))
            ea, eb = x264([a, b_], crf)
            out.append(Case("overlay", f"{name} x264 crf{crf}", array_clip([ea, mid, eb]), cut=False, motion=motion,
                            mask=mask, opaque=opaque))
    return out

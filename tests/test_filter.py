"""Behaviour of vsvfi.Interpolate on real and synthetic clips (CPU)."""

import random
from fractions import Fraction

import numpy as np
import pytest
import vapoursynth as vs

import vsvfi
from vsvfi.runtime import get_engine

from .conftest import counting, planes, same_frame

core = vs.core


def runs() -> int:
    return get_engine("rife46").runs


def test_lazy_middle_of_long_clip(carphone):
    src = core.std.Loop(carphone[:100], 100)  # 10,000 real frames
    log = []
    out = vsvfi.Interpolate(counting(src, log), ratio=Fraction(5, 2))
    assert out.num_frames == 25_000
    before = runs()
    g = out.get_frame(12_500)  # p = 5000 exactly: pass-through, no network, only source frame 5000
    assert set(log) == {5000} and runs() == before
    f = out.get_frame(12_501)  # p = 12501 * 2/5 = 5000.4 -> frames 5000 and 5001, t = 0.4
    assert f.props["VsvfiSynthesized"] == 1 and f.props["VsvfiSourceFrame"] == 5000
    assert f.props["VsvfiTimestep"] == pytest.approx(0.4)
    assert set(log) == {5000, 5001}
    assert runs() - before == 1
    assert same_frame(g, src.get_frame(5000))


def test_network_runs_only_for_requested_frames(carphone):
    out = vsvfi.Interpolate(carphone[:20], ratio=4)
    before = runs()
    for n in (0, 4, 8, 40, 44):  # all pass-through
        out.get_frame(n)
    assert runs() == before
    for n in (1, 2, 3):
        out.get_frame(n)
    assert runs() == before + 3
    out.get_frame(2)  # cached by VapourSynth or recomputed: never more than one more run
    assert runs() <= before + 4


def _render(clip, order):
    futures = {n: clip.get_frame_async(n) for n in order}
    return [planes(futures[n].result()) for n in range(clip.num_frames)]


def test_same_output_for_threads_and_request_order(carphone):
    src = carphone[40:52]
    old = core.num_threads
    try:
        core.num_threads = 1
        ref = [planes(f) for f in vsvfi.Interpolate(src, ratio=2.5).frames()]
        core.num_threads = 4
        order = list(range(30))
        random.Random(7).shuffle(order)
        got = _render(vsvfi.Interpolate(src, ratio=2.5), order)
    finally:
        core.num_threads = old
    assert len(ref) == len(got) == 30
    for n, (a, b) in enumerate(zip(ref, got)):
        assert all(np.array_equal(x, y) for x, y in zip(a, b)), f"output frame {n} differs"


def _two_shots(bikes, carphone):
    shot_b = core.resize.Bicubic(carphone[:6], bikes.width, bikes.height)
    return bikes[:6] + shot_b  # cut between frames 5 and 6


def test_no_synthesis_across_scene_change(bikes, carphone):
    src = _two_shots(bikes, carphone)
    out = vsvfi.Interpolate(src, ratio=3)
    for n in range(out.num_frames):
        f = out.get_frame(n)
        i = f.props["VsvfiSourceFrame"]
        if i == 5 and f.props["VsvfiTimestep"] > 0:
            assert f.props["VsvfiSynthesized"] == 0 and f.props["VsvfiSceneChange"] == 1
            assert same_frame(f, src.get_frame(5))
        elif i < 10 and f.props["VsvfiTimestep"] > 0:
            assert f.props["VsvfiSynthesized"] == 1, f"frame {n} inside a shot was not synthesized"
    # Turned off, the detector does not intervene.
    off = vsvfi.Interpolate(src, ratio=3, scene_change=False).get_frame(16)
    assert off.props["VsvfiSynthesized"] == 1


def test_detects_the_real_cuts_of_bikes(bikes):
    out = vsvfi.Interpolate(bikes, ratio=2)
    stats = [out.get_frame(2 * i + 1).props["VsvfiSceneChange"] for i in range(26, 34)]
    # bikes.mp4 cuts between source frames 29 and 30 only, in this range
    assert stats == [0, 0, 0, 1, 0, 0, 0, 0]


def test_existing_scene_change_props_are_honoured(carphone):
    src = carphone[:6]
    marked = core.std.SetFrameProps(src[:3], _SceneChangeNext=1) + src[3:]
    f = vsvfi.Interpolate(marked, ratio=2).get_frame(5)  # between 2 and 3
    assert f.props["VsvfiSynthesized"] == 0 and f.props["VsvfiSceneChange"] == 1
    prev = src[:3] + core.std.SetFrameProps(src[3:4], _SceneChangePrev=1) + src[4:]
    assert vsvfi.Interpolate(prev, ratio=2).get_frame(5).props["VsvfiSynthesized"] == 0
    assert vsvfi.Interpolate(src, ratio=2).get_frame(5).props["VsvfiSynthesized"] == 1


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.RGB24, vs.YUV444P16, vs.GRAY8, vs.RGBS, vs.RGBH, vs.YUV422P10])
def test_format_round_trip(carphone, fmt):
    src = carphone[:4]
    if fmt != vs.YUV420P8:
        src = core.resize.Bicubic(src, format=fmt, matrix_in_s="170m", matrix_s=None if
                                  core.get_video_format(fmt).color_family == vs.RGB else "170m")
    out = vsvfi.Interpolate(src, ratio=2)
    assert out.format.id == src.format.id and out.num_frames == 8
    for i in range(4):
        assert same_frame(out.get_frame(2 * i), src.get_frame(i)), f"source frame {i} changed"
    mid = out.get_frame(1)
    assert mid.format.id == src.format.id and mid.props["VsvfiSynthesized"] == 1
    # The synthesized frame lies between its neighbours, not far from either (same shot).
    a, b, m = (np.asarray(x[0], dtype=np.float64) for x in (src.get_frame(0), src.get_frame(1), mid))
    scale = 1.0 if core.get_video_format(fmt).sample_type == vs.FLOAT else float((1 << src.format.bits_per_sample) - 1)
    assert np.abs(m - (a + b) / 2).mean() / scale < 0.03


def test_props_and_durations(carphone):
    src = core.std.SetFrameProps(carphone[:5], _AbsoluteTime=1.5, _SceneChangeNext=0, _SceneChangePrev=0, Custom=7,
                                 _PictType="P")
    out = vsvfi.Interpolate(src, fps=Fraction(60000, 1001))
    assert out.fps == Fraction(60000, 1001) and out.num_frames == 10
    for n in range(out.num_frames):
        p = out.get_frame(n).props
        assert (p["_DurationNum"], p["_DurationDen"]) == (1001, 60000)
        assert p["Custom"] == 7
        if n % 2 == 0:  # pass-through: source props kept
            assert p["VsvfiSynthesized"] == 0 and p["_AbsoluteTime"] == 1.5 and "_SceneChangeNext" in p
            assert p["_PictType"] == "P"
        else:  # previewers show _PictType; a synthesized frame has no coded picture type
            assert p["VsvfiTimestep"] == 0.5
            assert not {"_AbsoluteTime", "_SceneChangeNext", "_SceneChangePrev", "_PictType"} & set(p.keys())


def test_chained_interpolation_marks_frames_correctly(carphone):
    once = vsvfi.Interpolate(carphone[:3], ratio=2)  # 6 frames, odd ones synthesized
    twice = vsvfi.Interpolate(once, ratio=2)  # its frame 2 passes through once's synthesized frame 1
    assert twice.get_frame(2).props["VsvfiSynthesized"] == 0
    # A duplicate past the end of a synthesized source frame is not "synthesized" either
    assert twice.get_frame(11).props["VsvfiSynthesized"] == 0
    assert twice.get_frame(1).props["VsvfiSynthesized"] == 1
    # Scene-change duplicates upstream are not reported as this instance's scene changes
    cut = vsvfi.Interpolate(core.std.SetFrameProps(carphone[:2], _SceneChangeNext=1), ratio=2)
    assert cut.get_frame(1).props["VsvfiSceneChange"] == 1
    again = vsvfi.Interpolate(cut, ratio=2, scene_change=False)  # its frame 2 passes cut's frame 1 through
    assert [again.get_frame(n).props["VsvfiSceneChange"] for n in (2, 3)] == [0, 0]


def test_last_frame_repeats(carphone):
    src = carphone[:3]
    out = vsvfi.Interpolate(src, ratio=3)
    assert out.num_frames == 9
    for n in (7, 8):
        f = out.get_frame(n)
        assert f.props["VsvfiSynthesized"] == 0 and same_frame(f, src.get_frame(2))


def test_variable_frame_rate_durations(carphone):
    a = core.std.AssumeFPS(carphone[:2], fpsnum=24)
    b = core.std.AssumeFPS(carphone[2:4], fpsnum=30)
    vfr = core.std.Splice([a, b], mismatch=True)
    assert vfr.fps == 0
    out = vsvfi.Interpolate(vfr, ratio=2)
    assert out.fps == 0 and out.num_frames == 8
    durs = [Fraction(out.get_frame(n).props["_DurationNum"], out.get_frame(n).props["_DurationDen"]) for n in range(8)]
    assert durs == [Fraction(1, 48)] * 4 + [Fraction(1, 60)] * 4
    # fps= on it: output frame n at n/60 s of the source timeline 0, 1/24, 2/24, 2/24 + 1/30
    out = vsvfi.Interpolate(vfr, fps=60)
    assert out.fps == 60 and out.num_frames == 9  # (2/24 + 2/30) s x 60
    props = [out.get_frame(n).props for n in range(9)]
    got = [(p["VsvfiSourceFrame"], Fraction(p["VsvfiTimestep"]).limit_denominator(100)) for p in props]
    assert got == [(0, 0), (0, Fraction(2, 5)), (0, Fraction(4, 5)), (1, Fraction(1, 5)), (1, Fraction(3, 5)),
                   (2, 0), (2, Fraction(1, 2)), (3, 0), (3, 0)]
    assert [p["_AbsoluteTime"] for p in props] == pytest.approx([n / 60 for n in range(9)])
    assert all((p["_DurationNum"], p["_DurationDen"]) == (1, 60) for p in props)
    assert same_frame(out.get_frame(7), vfr.get_frame(3))  # on a source time: the source frame


def test_timestamps_place_frames_on_the_source_timeline(carphone, tmp_path):
    src = carphone[:5]
    step = Fraction(1001, 30000)
    # evenly spaced timestamps at the clip's own rate: the same frames as ratio=2
    even = vsvfi.Interpolate(src, fps=Fraction(60000, 1001), timestamps=[k * step for k in range(5)])
    ref = vsvfi.Interpolate(src, ratio=2)
    assert even.num_frames == ref.num_frames == 10
    assert all(same_frame(even.get_frame(n), ref.get_frame(n)) for n in range(10))
    # a dropped-frame hole (0.08 -> 0.2 s) gets evenly spaced in-between positions across it
    out = vsvfi.Interpolate(src, fps=25, timestamps=[0, 0.04, 0.08, 0.2, 0.24, 0.28])
    assert out.num_frames == 7
    props = [out.get_frame(n).props for n in range(7)]
    assert [p["VsvfiSourceFrame"] for p in props] == [0, 1, 2, 2, 2, 3, 4]
    assert [p["VsvfiTimestep"] for p in props] == pytest.approx([0, 0, 0, 1 / 3, 2 / 3, 0, 0])
    # a timecodes v2 file (milliseconds), as core.bs.VideoSource(timecodes=...) writes it
    tc = tmp_path / "tc.txt"
    tc.write_text("# timecode format v2\n0\n40\n80\n200\n240\n")
    again = vsvfi.Interpolate(src, fps=25, timestamps=str(tc))
    assert again.num_frames == 7  # the last frame lasts as long as the one before it
    assert [again.get_frame(n).props["VsvfiSourceFrame"] for n in range(7)] == [0, 1, 2, 2, 2, 3, 4]


@pytest.mark.parametrize("stamps, match", [
    ([0, 1, 2], "has 3 entries for a clip of 5 frames"),
    ([0, 1, 1, 2, 3], "timestamps must increase: entry 2"),
    ("/nonexistent/tc.txt", "cannot read timecodes file"),
    (7, "timestamps must be a list of seconds or a timecodes v2 file"),
    ([0, 0.01, 0.02, 0.03, 0.04], "below the clip's average"),
])
def test_bad_timestamps(carphone, stamps, match):
    with pytest.raises(vs.Error, match=match):
        vsvfi.Interpolate(carphone[:5], fps=30, timestamps=stamps)


def test_ratio_and_fps_defaults(carphone):
    src = carphone[:10]
    assert vsvfi.Interpolate(src).num_frames == 20
    assert vsvfi.Interpolate(src, ratio="5/2").num_frames == 25
    assert vsvfi.Interpolate(src, ratio=2.5).fps == src.fps * Fraction(5, 2)
    messages = []
    handle = core.add_log_handler(lambda mt, msg: messages.append(msg))
    try:
        both = vsvfi.Interpolate(src, ratio=3, fps=1000)
    finally:
        core.remove_log_handler(handle)
    assert both.num_frames == 30  # ratio wins
    assert any("ratio" in m and "fps" in m for m in messages)
    assert vsvfi.Interpolate(src, ratio=1).num_frames == 10


@pytest.mark.parametrize("kwargs, match", [
    ({"ratio": 0.5}, "ratio must be >= 1"),
    ({"ratio": 0}, "ratio must be >= 1"),
    ({"ratio": -2}, "ratio must be >= 1"),
    ({"ratio": "fast"}, "ratio must be a finite number"),
    ({"ratio": float("nan")}, "ratio must be a finite number"),
    ({"ratio": float("inf")}, "ratio must be a finite number"),
    ({"fps": 0}, "fps must be > 0"),
    ({"fps": -30}, "fps must be > 0"),
    ({"fps": 10}, "below the clip"),
    ({"model": "rife99"}, "unknown model 'rife99'; known models: rife46"),
    ({"provider": "bogus"}, "unknown provider"),
    ({"sc_threshold": 2}, r"sc_threshold must be a number in \[0, 1\]"),
])
def test_bad_arguments(carphone, kwargs, match):
    with pytest.raises(vs.Error, match=match):
        vsvfi.Interpolate(carphone, **kwargs)


def test_bad_clips(carphone):
    with pytest.raises(vs.Error, match="must be a vapoursynth.VideoNode"):
        vsvfi.Interpolate("clip.mp4")
    with pytest.raises(vs.Error, match="at least 2 frames"):
        vsvfi.Interpolate(carphone[:1])
    varfmt = core.std.Splice([carphone[:2], core.resize.Point(carphone[:2], format=vs.YUV444P8)], mismatch=True)
    with pytest.raises(vs.Error, match="variable format"):
        vsvfi.Interpolate(varfmt)
    varsize = core.std.Splice([carphone[:2], core.resize.Point(carphone[:2], 160, 128)], mismatch=True)
    with pytest.raises(vs.Error, match="variable frame size"):
        vsvfi.Interpolate(varsize)


def test_missing_model_file_names_the_fix(carphone, tmp_path, monkeypatch):
    import vsvfi.runtime

    monkeypatch.setenv("VSVFI_MODEL_DIR", str(tmp_path))
    monkeypatch.setattr(vsvfi.runtime, "_engines", {})
    with pytest.raises(vs.Error, match=r"rife46.onnx is missing: run 'vsvfi models fetch --model rife46'"):
        vsvfi.Interpolate(carphone)


@pytest.mark.skipif(vsvfi.runtime.cuda_device_count() > 0, reason="a CUDA device is present")
@pytest.mark.parametrize("provider", ["cuda", "tensorrt"])
def test_absent_provider(carphone, provider):
    with pytest.raises(vs.Error, match=f"provider '{provider}' was asked for but is not available"):
        vsvfi.Interpolate(carphone, provider=provider)

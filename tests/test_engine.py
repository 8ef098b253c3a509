"""vsvfi.runtime.Engine itself (CPU provider pinned): ensemble, rife39's large-motion rerun,
output types, and renders that must not depend on streams or ORT threads."""

import numpy as np
import onnxruntime as ort
import pytest
import vapoursynth as vs

import vsvfi
from vsvfi.runtime import RifeEngine, pad_batch
from vsvfi.frames import frame_array
from vsvfi.models import verified_onnx

core = vs.core
W, H = 512, 256


@pytest.fixture(scope="module")
def pair(bikes):
    """bikes frames 40/41 (little motion) as float32 (3, 256, 512) RGB."""
    rgb = core.resize.Bicubic(bikes, W, H, format=vs.RGBS, matrix_in_s="170m")
    return frame_array(rgb.get_frame(40)), frame_array(rgb.get_frame(41))


@pytest.fixture(scope="module")
def big_move(bikes):
    """A real frame and a copy moved 96 px to the right: large motion for rife39."""
    rgb = core.resize.Bicubic(bikes, W + 96, H, format=vs.RGBS, matrix_in_s="170m")
    f = frame_array(rgb.get_frame(40))
    return f[:, :, 96:].copy(), f[:, :, :W].copy()


def test_ensemble_is_the_mean_of_the_forward_and_time_reversed_runs(pair):
    eng = RifeEngine("rife46", "cpu", threads=2)
    a, b = pair
    runs = eng.runs
    ens = eng.synthesize(eng.prepare(a, b), 0.3, ensemble=True)
    assert eng.runs == runs + 1  # one batch of two
    fwd = eng.synthesize(eng.prepare(a, b), 0.3)
    rev = eng.synthesize(eng.prepare(b, a), 0.7)
    assert ens.shape == (3, H, W) and ens.dtype == np.float32
    np.testing.assert_allclose(ens, (fwd + rev) / 2, atol=2e-6)
    assert np.abs(fwd - rev).mean() > 1e-4  # the two directions differ: the mean is not a no-op


def test_rife39_reruns_large_motion_at_half_scale(pair, big_move):
    """The engine reruns an item whose graph run reports large motion at scale / 2, and only
    then: its frame is exactly the half-scale run's frame."""
    eng = RifeEngine("rife39", "cpu", threads=2)
    path, _ = verified_onnx("rife39")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def graph(a, b, scale):
        m = eng.spec.pad_for(scale)
        feed = {"img0": pad_batch(a, m), "img1": pad_batch(b, m), "timestep": np.full((1, 1, 1, 1), 0.5, np.float32),
                "scale": np.array([scale], np.float32)}
        frame, flag = sess.run(None, feed)
        return frame[0, :, :H, :W], bool(flag[0])

    for (a, b), large in ((pair, False), (big_move, True)):
        runs = eng.runs
        got = eng(a, b, 0.5)
        first, fired = graph(a, b, 1.0)
        assert fired == large and eng.runs == runs + (2 if large else 1)
        want = graph(a, b, 0.5)[0] if large else first
        assert np.array_equal(got, want)


def test_fp16_graph_output_stays_float16_when_asked(pair):
    """dtype=None returns what the graph made: float16 for the fp16 graph (RGBH clips are
    copied into their frames without a float32 detour), float32 by default."""
    eng = RifeEngine("rife46", "cpu", threads=2, precision="fp16")
    p = eng.prepare(*pair)
    raw, default = eng.synthesize(p, 0.5, dtype=None), eng.synthesize(p, 0.5)
    assert raw.dtype == np.float16 and default.dtype == np.float32
    assert np.array_equal(raw.astype(np.float32), default)


def test_rgbh_clip_gets_the_float16_frame_without_float32_detour(monkeypatch, bikes):
    seen = []
    real = RifeEngine.synthesize

    def spy(self, pair, t, ensemble=False, dtype=np.float32):
        out = real(self, pair, t, ensemble, dtype)
        seen.append(out.dtype)
        return out

    monkeypatch.setattr(RifeEngine, "synthesize", spy)
    rgbh = core.resize.Bicubic(bikes[40:42], 320, 136, format=vs.RGBH, matrix_in_s="170m")
    f = vsvfi.Interpolate(rgbh, provider="cpu", precision="fp16", scene_change=False,
                          protect_static=False).get_frame(1)
    assert f.format.id == vs.RGBH and f.props["VsvfiSynthesized"] == 1
    assert seen == [np.float16]


def test_render_is_bit_identical_across_streams_and_ort_threads(bikes):
    """The benchmark's claim, in CI: two sessions used in turn, or one ORT thread per session,
    give the same bytes as the defaults."""
    src = core.resize.Bicubic(bikes[40:45], 320, 136)

    def render(**kw):
        clip = vsvfi.Interpolate(src, provider="cpu", **kw)
        return [b"".join(bytes(f[p]) for p in range(3)) for f in clip.frames()]

    base = render()
    assert len(base) == 10
    assert render(num_streams=2) == base
    assert render(ort_threads=1) == base

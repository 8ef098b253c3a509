"""scale="auto"'s fusion of several flow scales (vsvfi.scale_fusion) and the engine's misfit
(the rife46 graph's disagreement output). Its effect on the families: tests/test_decisions.py."""

import numpy as np
import pytest

from vsvfi import scale_fusion
from vsvfi.export import example_pair
from vsvfi.runtime import get_engine
from vsvfi.scale_fusion import COARSE_ABOVE, FUSE_ABOVE, FUSED_SCALES, auto_scales, fuse, weights


def test_a_clearly_better_flow_takes_nearly_all_the_weight():
    w = weights([0.001, 0.004, 0.008])
    assert w.sum() == pytest.approx(1.0) and w[0] > 0.97 and w[1] > w[2]
    assert np.allclose(weights([0.002, 0.002, 0.002]), 1 / 3)
    assert weights([0.001, 0.003], power=1)[0] == pytest.approx(2 / 3)  # (0.002)^-1 : (0.004)^-1
    # the floor: two near-perfect fits share the weight instead of the smaller one taking it all
    assert np.allclose(weights([0.0, 1e-5]), 0.5, atol=0.01)


@pytest.mark.parametrize("bad", [[], [-0.1, 0.2], [np.nan, 0.1], [np.inf, 0.1], [[0.1, 0.2]]])
def test_weights_refuse_misfits_that_are_not_finite_non_negative_numbers(bad):
    with pytest.raises(ValueError, match="misfits must be"):
        weights(bad)


def test_fuse_is_the_weighted_mean_in_float32():
    rng = np.random.default_rng(0)
    frames = [rng.random((3, 4, 5)).astype(np.float16) for _ in range(3)]
    misfits = [0.003, 0.001, 0.01]
    got = fuse(frames, misfits)
    want = sum(w * f.astype(np.float64) for w, f in zip(weights(misfits), frames))
    assert got.dtype == np.float32 and np.allclose(got, want, atol=1e-6)


def test_auto_scales_fuse_only_large_motion_of_a_model_with_the_misfit():
    assert auto_scales(FUSE_ABOVE, True) == (1.0,)
    assert auto_scales(FUSE_ABOVE + 0.1, True) == auto_scales(COARSE_ABOVE, True) == FUSED_SCALES == (1.0, 0.5, 0.25)
    assert auto_scales(COARSE_ABOVE + 0.1, True) == (0.5, 0.25)  # scale 1's flow misses there
    assert auto_scales(100.0, False) == (0.5,) and auto_scales(300.0, False) == (0.25,)
    assert auto_scales(10.0, False) == (1.0,)


@pytest.fixture(scope="module")
def engine():
    return get_engine("rife46", "cpu", threads=2)


def test_misfit_comes_with_the_same_frame_and_is_lowest_where_the_flow_fits(engine):
    a, b, _ = example_pair(128, 192, seed=5, shift=6)
    a, b = a[0].numpy(), b[0].numpy()
    pair = engine.prepare(a, b, 0.25)  # padded for 0.25: every scale can run on it
    misfits = {}
    for s in (1.0, 0.5, 0.25):
        frame, misfits[s] = engine.synthesize(pair, 0.5, scale=s, misfit=True)
        assert np.array_equal(frame, engine.synthesize(pair, 0.5, scale=s))
        assert 0 <= misfits[s] < 0.05
    # a smooth 6 px shift: the full-resolution flow fits it best
    assert misfits[1.0] == min(misfits.values())
    # a frame the network cannot explain (noise against its negative) misfits far more
    noise = np.random.default_rng(1).random(a.shape, np.float32)
    _, bad = engine.synthesize(engine.prepare(noise, 1 - noise), 0.5, misfit=True)
    assert bad > 10 * misfits[1.0]


def test_a_pair_runs_only_at_scales_its_padding_allows(engine):
    a, b, _ = example_pair(64, 96, seed=2)
    pair = engine.prepare(a[0].numpy(), b[0].numpy(), 1.0)  # multiples of 32
    with pytest.raises(ValueError, match="padded to multiples of 32 cannot run at scale 0.25"):
        engine.synthesize(pair, 0.5, scale=0.25)


def test_a_model_without_the_output_has_no_misfit():
    eng = get_engine("rife39", "cpu", threads=1)
    a, b, _ = example_pair(128, 192, seed=2)
    with pytest.raises(ValueError, match="no disagreement output"):
        eng.synthesize(eng.prepare(a[0].numpy(), b[0].numpy()), 0.5, misfit=True)
    assert "disagreement" not in eng.spec.outputs and scale_fusion.auto_scales(100.0, False) == (0.5,)


def test_each_scale_runs_on_its_own_padding_and_the_copies_are_shared(engine):
    """scale="auto"'s pairs: scale s gives the frame the pair padded for s alone gives (one
    padded for the smallest scale does not; docs/auto-scale.md, "one padding"), and the
    larger scales' pairs are views of the smallest's padded frames, not copies."""
    a, b, _ = example_pair(200, 330, seed=3, shift=9)  # 200 rows: 224 / 256 padded for 1 / 0.25
    a, b = a[0].numpy(), b[0].numpy()
    pairs = scale_fusion.prepare(engine, a, b, FUSED_SCALES)
    assert [p.multiple for p in pairs] == [32, 64, 128] and pairs[0].img0.shape == (1, 3, 224, 352)
    assert all(np.shares_memory(p.img0, pairs[-1].img0) for p in pairs)
    for p, s in zip(pairs, FUSED_SCALES):
        assert np.array_equal(engine.synthesize(p, 0.5), engine.synthesize(engine.prepare(a, b, s), 0.5))
    assert not np.array_equal(engine.synthesize(engine.prepare(a, b, 0.25), 0.5, scale=1.0),
                              engine.synthesize(pairs[0], 0.5))
    with pytest.raises(ValueError, match="one prepared pair per scale: 2 pairs"):
        scale_fusion.runs(engine, pairs[:2], 0.5, FUSED_SCALES)

"""vsvfi.runtime: one Engine interface for every model kind; settings reach every engine
(none is dropped silently); each model's facts come from its ModelSpec."""

import numpy as np
import pytest
import vapoursynth as vs

import vsvfi
from vsvfi import memory
from vsvfi.models import MODELS, verified_graphs
from vsvfi.runtime import ENGINES, GMFSSEngine, RifeEngine, SettingError, get_engine

core = vs.core


def pair(h=72, w=88, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random((3, h, w), dtype=np.float32)
    return a, np.roll(a, 3, axis=2)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_has_an_engine_with_the_common_interface(model):
    spec = MODELS[model]
    assert set(verified_graphs(model)) == set(spec.io())  # the manifest agrees with the spec
    eng = get_engine(model, "cpu", threads=1)
    assert isinstance(eng, ENGINES[spec.kind]) and eng.spec is spec
    assert eng.active_provider == "CPUExecutionProvider" and eng.precision_used == "fp32"
    assert eng.device_pad is False
    a, b = pair()
    runs = eng.runs
    prepared = eng.prepare(a, b, 1.0)
    out = eng.synthesize(prepared, 0.5, False, dtype=None)
    assert out.shape == (3, 72, 88) and out.dtype == np.float32 and eng.runs == runs + 1
    np.testing.assert_array_equal(eng(a, b, 0.5), out)


def test_gmfss_streams_are_used_in_turn_with_identical_frames():
    a, b = pair(seed=1)
    one = GMFSSEngine("gmfss", "cpu", threads=1, streams=1)
    two = GMFSSEngine("gmfss", "cpu", threads=1, streams=2)
    assert len(one.fusion_sessions) == 1 and len(two.fusion_sessions) == 2
    state = two.prepare(a, b)
    frames = [two.synthesize(state, 0.5) for _ in range(2)]  # one on each session
    want = one(a, b, 0.5)
    for f in frames:
        np.testing.assert_array_equal(f, want)


def test_gmfss_refuses_settings_it_cannot_honour():
    with pytest.raises(SettingError, match="gmfss runs in float32 only; use precision='auto' or 'fp32'"):
        get_engine("gmfss", "cpu", precision="fp16")
    with pytest.raises(SettingError, match="device_pad, static_shapes and cuda_graph must be False or None"):
        GMFSSEngine("gmfss", "cpu", device_pad=True)
    clip = core.std.BlankClip(width=64, height=48, format=vs.RGBS, length=3)
    with pytest.raises(vs.Error, match="vsvfi.Interpolate: gmfss runs in float32 only"):
        vsvfi.Interpolate(clip, model="gmfss", provider="cpu", precision="fp16")


def test_unknown_precision_is_refused_by_the_engine_with_the_filters_message():
    with pytest.raises(SettingError, match="precision must be 'auto', 'fp32' or 'fp16', got 'fp8'"):
        RifeEngine("rife46", "cpu", precision="fp8")


def test_per_model_memory_facts_come_from_the_spec():
    # two padded frames plus masks (28 B/px), plus gmfss's flow-graph state (229.875 B/px, rounded up)
    assert memory.pair_bytes("rife46") == memory.pair_bytes("rife39") == 28
    assert memory.pair_bytes("gmfss") == 28 + 230
    # rife46 at 640x272 on the CPU (padded 640x288): 1.5 x 250 B x padded pixels + caches for 2 threads
    caches = 640 * 272 * (5 * 12 + 4 * 28)
    assert memory.memory_needed(640, 272, "rife46", threads=2) == int(1.5 * 250 * 640 * 288 + caches)


def test_tensorrt_profile_covers_every_flow_scale(tmp_path, monkeypatch):
    """RifeEngine's TensorRT options (built without a GPU): the profile spans the padded
    frame at the finest multiple (min) to the coarsest, rife39's half-scale rerun included
    (max, batch 2 for ensemble), optimised for scale 1; the spec's input layout names them."""
    from types import SimpleNamespace

    monkeypatch.setenv("VSVFI_TRT_CACHE", str(tmp_path))
    fake = SimpleNamespace(size=(1080, 1920), spec=MODELS["rife46"], device_index=0)
    opts = RifeEngine._trt_options(fake, verified_graphs("rife46")["rife46"])
    # rife46 pads to 32 / scale: 16 at scale 2, 256 at scale 0.125
    assert opts["trt_profile_min_shapes"] == "img0:1x3x1088x1920,img1:1x3x1088x1920,timestep:1x1x1x1,scale:1"
    assert opts["trt_profile_opt_shapes"] == "img0:1x3x1088x1920,img1:1x3x1088x1920,timestep:1x1x1x1,scale:1"
    assert opts["trt_profile_max_shapes"] == "img0:2x3x1280x2048,img1:2x3x1280x2048,timestep:2x1x1x1,scale:1"
    assert opts["trt_engine_cache_path"].startswith(str(tmp_path / "engines"))

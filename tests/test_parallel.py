"""Parallel serving and the per-pair cache: several output frames compute at once, the
result never depends on the thread count or the request order, and shared work (source
conversion, pair preparation) happens once per source frame / pair."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import vapoursynth as vs

import vsvfi
from vsvfi.cache import OnceCache
from vsvfi.runtime import RifeEngine

from .conftest import planes

core = vs.core


def test_once_cache_computes_once_under_contention():
    cache = OnceCache(4)
    calls = []
    gate = threading.Event()

    def make():
        calls.append(1)
        gate.wait(5)
        return object()

    with ThreadPoolExecutor(8) as pool:
        futs = [pool.submit(cache.get, "k", make) for _ in range(8)]
        time.sleep(0.2)  # all eight are now waiting on the one computation
        gate.set()
        values = [f.result() for f in futs]
    assert len(calls) == 1 and all(v is values[0] for v in values)
    assert cache.misses == 1 and cache.hits == 7 and cache.peek("k") is values[0]


def test_once_cache_errors_reach_every_waiter_and_are_not_cached():
    cache = OnceCache(2)
    gate = threading.Event()

    def bad():
        gate.wait(5)
        raise RuntimeError("boom")

    with ThreadPoolExecutor(4) as pool:
        futs = [pool.submit(cache.get, 1, bad) for _ in range(4)]
        time.sleep(0.2)
        gate.set()
        for f in futs:
            with pytest.raises(RuntimeError, match="boom"):
                f.result()
    assert len(cache) == 0 and cache.get(1, lambda: "ok") == "ok"


def test_once_cache_is_lru_and_bounded():
    cache = OnceCache(2)
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    assert cache.peek("a") == 1  # a is now the most recently used
    cache.get("c", lambda: 3)  # evicts b
    assert len(cache) == 2 and cache.peek("b") is None and cache.peek("a") == 1 and cache.peek("c") == 3
    with pytest.raises(ValueError):
        OnceCache(0)


@pytest.fixture(scope="module")
def small_clip(carphone):
    return carphone[10:16]  # 6 real frames, 176x144 YUV420P8


def _render(clip: vs.VideoNode, order) -> dict[int, list[np.ndarray]]:
    """Request every frame at once in ``order`` (asynchronously) and collect them."""
    futs = {n: clip.get_frame_async(n) for n in order}
    return {n: planes(fut.result()) for n, fut in futs.items()}


def test_output_identical_across_threads_and_request_orders(small_clip):
    old = core.num_threads
    results = []
    try:
        for threads, order in ((1, "forward"), (2, "reverse"), (2, "shuffled"), (4, "shuffled"), (8, "forward")):
            core.num_threads = threads
            out = vsvfi.Interpolate(small_clip, ratio=4, scene_change=False)
            ns = list(range(out.num_frames))
            if order == "reverse":
                ns.reverse()
            elif order == "shuffled":
                np.random.default_rng(threads).shuffle(ns)
            results.append(_render(out, ns))
    finally:
        core.num_threads = old
    first = results[0]
    assert len(first) == 24
    for other in results[1:]:
        for n in first:
            assert all(np.array_equal(x, y) for x, y in zip(first[n], other[n])), f"frame {n} differs between runs"


def test_each_pair_is_prepared_once(small_clip, monkeypatch):
    prepared = []
    real = RifeEngine.prepare

    def counting(self, img0, img1, scale=1.0):
        prepared.append(1)
        time.sleep(0.05)  # widen the window in which other threads ask for the same pair
        return real(self, img0, img1, scale)

    monkeypatch.setattr(RifeEngine, "prepare", counting)
    old = core.num_threads
    core.num_threads = 4
    try:
        out = vsvfi.Interpolate(small_clip, ratio=4, scene_change=False)
        frames = _render(out, range(out.num_frames))
    finally:
        core.num_threads = old
    synthesized = sum(1 for n in frames if n % 4 and n < 20)
    assert synthesized == 15
    assert len(prepared) == 5  # 5 pairs, each shared by its 3 synthesized frames


def test_same_frame_requested_twice_is_identical(small_clip):
    """Every frame asked for twice at once on 8 threads (VapourSynth may merge the two
    requests or serve one from its frame cache), then some again one by one, on a clip whose
    pairs were computed in whatever order the threads reached them: always the bytes of a
    1-thread in-order render."""
    old = core.num_threads
    try:
        core.num_threads = 1
        ref = [planes(f) for f in vsvfi.Interpolate(small_clip, ratio=4, scene_change=False).frames()]
        core.num_threads = 8
        out = vsvfi.Interpolate(small_clip, ratio=4, scene_change=False)
        order = [n for n in range(out.num_frames) for _ in range(2)]
        np.random.default_rng(3).shuffle(order)
        futs = [(n, out.get_frame_async(n)) for n in order]
        for n, fut in futs:
            assert all(np.array_equal(x, y) for x, y in zip(ref[n], planes(fut.result()))), f"frame {n} differs"
        for n in (1, 1, 22, 1, 13, 13):
            assert all(np.array_equal(x, y) for x, y in zip(ref[n], planes(out.get_frame(n)))), f"frame {n} differs"
    finally:
        core.num_threads = old


def test_gmfss_runs_its_flow_graph_once_per_pair(small_clip):
    """The two-stage model through the filter at 4x on 2 threads: one flow-graph run per
    source pair (cached), one fusion run per synthesized frame, finite RGB in range, and
    the same bytes when rendered again on 1 thread in reverse order."""
    from vsvfi.runtime import get_engine

    eng = get_engine("gmfss", "cpu")
    flows, fusions = eng.flow_runs, eng.runs
    old = core.num_threads
    core.num_threads = 2
    try:
        clip = small_clip[:3]
        out = vsvfi.Interpolate(clip, ratio=4, model="gmfss", provider="cpu", scene_change=False)
        frames = _render(out, range(out.num_frames))
    finally:
        core.num_threads = old
    assert len(frames) == 12
    assert eng.flow_runs - flows == 2 and eng.runs - fusions == 6
    # a fresh clip (pairs prepared again) on 1 thread in reverse order: the same bytes
    core.num_threads = 1
    try:
        again = _render(vsvfi.Interpolate(clip, ratio=4, model="gmfss", provider="cpu", scene_change=False),
                        range(11, -1, -1))
    finally:
        core.num_threads = old
    for n in frames:
        assert all(np.array_equal(x, y) for x, y in zip(frames[n], again[n])), f"frame {n} differs"
    mid = frames[2][0].astype(np.float64)  # luma between source frames 0 and 1
    assert 16 <= mid.mean() <= 235 and not np.array_equal(frames[2][0], frames[0][0])

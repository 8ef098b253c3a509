import os
import signal

import numpy as np
import pytest
import vapoursynth as vs
from hypothesis import settings

from vsvfi import assets

core = vs.core

# The suite asserts the CPU provider's behaviour: on a host with a GPU, provider="auto" would
# otherwise pick CUDA fp16 (here and in the CLI subprocesses, which inherit this).
os.environ["CUDA_VISIBLE_DEVICES"] = ""
# CI sets VSVFI_REQUIRE_ALL=1: a test or module that skips (no torch, a missing graph or
# wheel) fails instead, so a broken set-up cannot pass as a shorter suite.
REQUIRE_ALL = os.environ.get("VSVFI_REQUIRE_ALL") == "1"


def _no_skips(rep):
    if REQUIRE_ALL and rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        rep.longrepr = f"skipped, but VSVFI_REQUIRE_ALL=1 allows no skip: {rep.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    _no_skips((yield).get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    _no_skips((yield).get_result())


# Shared CI machines are noisy: no per-example deadline.
settings.register_profile("vsvfi", deadline=None)
settings.load_profile("vsvfi")


@pytest.fixture(scope="session")
def sample():
    """Path of a sample clip by stem: bikes (640x272, 250 f, 25 fps, cuts at 30 76 137 187 242),
    bigbuckbunny (1280x720, 132 f), carphone_pristine (176x144, 120 f, 30000/1001 fps)."""
    return lambda stem: str(assets.fetch(assets.SAMPLES[stem]))


@pytest.fixture(scope="session")
def carphone(sample):
    return core.bs.VideoSource(sample("carphone_pristine"))


@pytest.fixture(scope="session")
def bikes(sample):
    return core.bs.VideoSource(sample("bikes"))


def planes(frame) -> list[np.ndarray]:
    return [np.array(frame[p], copy=True) for p in range(frame.format.num_planes)]


def same_frame(a, b) -> bool:
    return a.format.id == b.format.id and all(np.array_equal(x, y) for x, y in zip(planes(a), planes(b)))


def default_sigint() -> None:
    """``preexec_fn`` of a child that a test interrupts: SIGINT back to its default. A shell
    starts background jobs with SIGINT ignored and children inherit that, so under such a
    job the child would ignore the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def counting(clip: vs.VideoNode, log: list) -> vs.VideoNode:
    """``clip`` with every frame request recorded in ``log`` (frame numbers)."""
    def rec(n, f):
        log.append(n)
        return f
    return core.std.ModifyFrame(clip, clip, rec)

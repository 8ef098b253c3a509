"""``pip install vsvfi`` outside this checkout: the wheel in a fresh venv without torch.

Builds the wheel, installs it with its ``cpu`` extra into a new virtual environment (pip's
cache makes reruns cheap), then, in that environment: torch is absent, models come from
``VSVFI_MODEL_DIR`` (the ones this checkout exported) and a bikes excerpt renders; without
models the error names the command that fetches them; ``vsvfi models fetch`` says that it
needs the export extra; the default model directory is per-user, not site-packages.
"""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    """(python of a fresh venv with the vsvfi wheel[cpu] installed, its environment variables)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # built from a copy of the sources: setuptools leaves build/ beside the project it builds
    tree = tmp / "src"
    shutil.copytree(ROOT / "vsvfi", tree / "vsvfi", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp),
                    str(tree)], check=True, capture_output=True)
    wheel = next(tmp.glob("vsvfi-*.whl"))
    venv.create(tmp / "venv", with_pip=True)
    py = tmp / "venv" / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[cpu]"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VSVFI_", "PYTHON", "VIRTUAL_ENV"))}
    env["HOME"] = str(tmp / "home")  # per-user directories of this test only
    (tmp / "home").mkdir()
    return py, env, tmp


def _run(py, env, code, **extra):
    # run from the empty home: "python -c" puts the working directory first on sys.path
    return subprocess.run([str(py), "-c", code], capture_output=True, text=True, env={**env, **extra}, cwd=env["HOME"])


def test_wheel_renders_without_torch(wheel_env, sample):
    py, env, tmp = wheel_env
    code = f"""
import importlib.util, vapoursynth as vs, vsvfi
from vsvfi.models import model_dir
assert importlib.util.find_spec("torch") is None
print("installed at", vsvfi.__file__)
clip = vs.core.bs.VideoSource({sample("bikes")!r})[:6]
out = vsvfi.Interpolate(clip, ratio=2, provider="cpu")
print("frames", out.num_frames, "synthesized", sum(out.get_frame(n).props["VsvfiSynthesized"] for n in range(out.num_frames)))
"""
    r = _run(py, env, code, VSVFI_MODEL_DIR=str(ROOT / "models"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "site-packages" in r.stdout and str(ROOT) not in r.stdout.split("installed at", 1)[1].split()[0]
    assert "frames 12 synthesized 5" in r.stdout


def test_wheel_without_models_says_how_to_get_them(wheel_env, carphone):
    py, env, tmp = wheel_env
    code = """
import vapoursynth as vs, vsvfi
from vsvfi.models import model_dir
print("model dir", model_dir())
try:
    vsvfi.Interpolate(vs.core.std.BlankClip(width=64, height=48, length=4), provider="cpu")
except vs.Error as e:
    print("error", e)
"""
    r = _run(py, env, code)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"model dir {env['HOME']}/.local/share/vsvfi/models" in r.stdout
    assert "rife46.onnx is missing: run 'vsvfi models fetch --model rife46'" in r.stdout
    vsvfi = py.with_name("vsvfi")
    r = subprocess.run([str(vsvfi), "models", "fetch"], capture_output=True, text=True, env=env, cwd=env["HOME"])
    assert r.returncode == 1
    assert r.stderr.strip() == ("vsvfi models: error: fetching a model exports it from its PyTorch weights: that needs "
                                "torch, which comes with the export extra: pip install 'vsvfi[export]' (or copy an "
                                "exported models folder and point VSVFI_MODEL_DIR at it)")
    r = subprocess.run([str(vsvfi), "models", "import", "flownet.pkl", "--model", "rife4.25"], capture_output=True,
                       text=True, env=env, cwd=env["HOME"])
    assert r.returncode == 1 and "importing weights checks them and exports them to ONNX: that needs torch" in r.stderr
    r = subprocess.run([str(vsvfi), "models", "list"], capture_output=True, text=True, env=env, cwd=env["HOME"])
    assert r.returncode == 0 and "rife46.onnx              missing" in r.stdout
    r = subprocess.run([str(vsvfi), "--version"], capture_output=True, text=True, env=env, cwd=env["HOME"])
    assert r.returncode == 0 and "onnxruntime 1." in r.stdout and "onnxruntime-gpu" not in r.stdout


def test_onnxruntime_mix_up_is_named(monkeypatch):
    from vsvfi.runtime import providers

    monkeypatch.setattr(providers, "ort_distributions", lambda: ["onnxruntime", "onnxruntime-gpu"])
    with pytest.raises(providers.ProviderError, match="both onnxruntime and onnxruntime-gpu are installed"):
        providers.provider_name("cpu")

"""The vsvfi command line and the example .vpy script, end to end on a real clip."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from .conftest import default_sigint

ROOT = Path(__file__).resolve().parent.parent
VSVFI = [sys.executable, "-m", "vsvfi.cli"]


def probe(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


@pytest.fixture(scope="module")
def clip_with_audio(sample, tmp_path_factory):
    """First 30 frames (about 1 s) of carphone (29.97 fps) with a 440 Hz AAC tone."""
    path = tmp_path_factory.mktemp("cli") / "in.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", sample("carphone_pristine"), "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000:duration=1.001", "-t", "1.001", "-map", "0:v",
                    "-map", "1:a", "-c:v", "libx264", "-crf", "10", "-c:a", "aac", str(path)], check=True)
    return path


def test_cli_interpolates_and_keeps_audio(clip_with_audio, tmp_path):
    src = probe(clip_with_audio)
    n_in = int(src["video"]["nb_read_frames"])
    out = tmp_path / "out.mp4"  # MP4 keeps 60000/1001 exactly (Matroska rounds to 1 ms)
    r = subprocess.run([*VSVFI, str(clip_with_audio), "-o", str(out), "--fps", "60000/1001", "--crf", "20"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"{n_in} -> {2 * n_in} frames" in r.stdout and str(out) in r.stdout
    got = probe(out)
    assert Fraction(got["video"]["r_frame_rate"]) == Fraction(60000, 1001)
    assert int(got["video"]["nb_read_frames"]) == 2 * n_in
    assert got["audio"]["codec_name"] == "aac"
    assert abs(float(got["audio"]["duration"]) - 1.001) < 1024 / 48000 + 1e-3
    assert not list(tmp_path.glob(".*partial*"))


def test_cli_version():
    r = subprocess.run([*VSVFI, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("vsvfi 0.") and "vapoursynth 81" in r.stdout


@pytest.mark.parametrize("start, end, first, count", [("10f", "20f", 10, 10), ("0.5", None, 15, 15)])
def test_cli_renders_a_section_with_its_audio(clip_with_audio, tmp_path, start, end, first, count):
    out = tmp_path / "part.mp4"
    args = [str(clip_with_audio), "-o", str(out), "--start", start] + (["--end", end] if end else [])
    r = subprocess.run([*VSVFI, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"source frames {first}..{first + count - 1}: {count} -> {2 * count} frames" in r.stdout
    got = probe(out)
    assert int(got["video"]["nb_read_frames"]) == 2 * count
    # the audio is the section's: its duration is the rendered time, within one AAC packet (1024 samples)
    seconds = count * 1001 / 30000
    assert abs(float(got["audio"]["duration"]) - seconds) < 1024 / 48000 + 1e-3, got["audio"]


def _fails(args, match, code=None):
    r = subprocess.run([*VSVFI, *args], capture_output=True, text=True)
    assert r.returncode != 0 if code is None else r.returncode == code
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], r.stderr
    return r


def test_cli_errors(clip_with_audio, tmp_path):
    out = str(tmp_path / "o.mp4")
    _fails([str(tmp_path / "nope.mp4"), "-o", out], "input file not found")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    _fails([str(junk), "-o", out], "cannot decode")
    _fails([str(clip_with_audio), "-o", out, "--ratio", "2", "--fps", "60"], "not allowed with argument", code=2)
    _fails([str(clip_with_audio), "-o", out, "--ratio", "0.5"], "ratio must be >= 1")
    _fails([str(clip_with_audio), "-o", out, "--fps", "abc"], "fps must be a finite number")
    _fails([str(clip_with_audio), "-o", out, "--model", "nope"], "invalid choice", code=2)
    _fails([str(clip_with_audio), "-o", out, "--crf", "99"], "--crf must be in 0..51")
    # hints in command-line words, not .vpy ones
    _fails([str(clip_with_audio), "-o", out, "--fps", "20"], "--fps 20 is below the clip's")
    _fails([str(clip_with_audio), "-o", out, "--sc-threshold", "3"], "--sc-threshold must be a number")
    _fails([str(clip_with_audio), "-o", out, "--start", "soon"], "is not a source time", code=2)
    _fails([str(clip_with_audio), "-o", out, "--start", "5"], "--start is at or past the end of the input (30 frames")
    _fails([str(clip_with_audio), "-o", out, "--start", "20f", "--end", "10f"], "--end must come after --start")
    _fails([str(clip_with_audio), "-o", str(tmp_path)], "is a directory")
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep me")
    _fails([str(clip_with_audio), "-o", str(existing)], "exists; pass --overwrite")
    assert existing.read_bytes() == b"keep me"
    assert not (tmp_path / "o.mp4").exists()


def test_vpy_script_through_vspipe(sample, tmp_path):
    vspipe = Path(sys.executable).with_name("vspipe")
    vspipe = str(vspipe) if vspipe.exists() else shutil.which("vspipe")
    script = str(ROOT / "scripts" / "interpolate.vpy")
    src = sample("carphone_pristine")
    info = subprocess.run([vspipe, "--info", script, "-a", f"src={src}", "-a", "fps=60000/1001"],
                          capture_output=True, text=True, cwd=ROOT)
    assert info.returncode == 0, info.stderr
    assert "Frames: 240" in info.stdout and "60000/1001" in info.stdout
    y4m = tmp_path / "out.y4m"
    # A relative src is taken from the directory vspipe runs in, not the script's.
    r = subprocess.run([vspipe, "-c", "y4m", script, str(y4m), "-a", f"src={Path(src).name}", "-a", "ratio=3",
                        "-e", "5"], capture_output=True, text=True, cwd=Path(src).parent,
                       env={**os.environ, "PWD": str(Path(src).parent)})  # as a shell sets it
    assert r.returncode == 0, r.stderr
    frames = y4m.read_bytes().count(b"FRAME")
    assert frames == 6
    # An RGB source (libx264rgb) still makes y4m: the script converts RGB output to YUV 4:4:4
    rgb = tmp_path / "rgb.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", src, "-frames:v", "4", "-c:v", "libx264rgb", "-crf", "10",
                    str(rgb)], check=True)
    r = subprocess.run([vspipe, "-c", "y4m", script, str(y4m), "-a", f"src={rgb}"], capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr
    data = y4m.read_bytes()
    assert data.count(b"FRAME") == 8 and b" C444" in data.split(b"\n", 1)[0]


# --- no data lost (issue 5): interrupts, failures and existing outputs ---------------------------

def _partials(folder: Path) -> list[Path]:
    return list(folder.glob(".*vsvfi-partial*"))


@pytest.mark.parametrize("how", ["SIGINT to the process group (Ctrl-C)", "SIGINT to vsvfi only", "SIGTERM to vsvfi only"])
def test_cli_interrupt_leaves_no_output(sample, tmp_path, how):
    out = tmp_path / "out.mp4"
    p = subprocess.Popen([*VSVFI, sample("carphone_pristine"), "-o", str(out), "--ratio", "8", "--no-progress"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=default_sigint)
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:  # wait until ffmpeg has written something
        if any(f.stat().st_size > 0 for f in _partials(tmp_path)):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    assert p.poll() is None, "the encode finished before it could be interrupted"
    if how.startswith("SIGINT to the process group"):
        os.killpg(p.pid, signal.SIGINT)
    else:
        p.send_signal(signal.SIGTERM if how.startswith("SIGTERM") else signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "interrupted; no output written" in err, err
    assert not out.exists() and not _partials(tmp_path) and list(tmp_path.iterdir()) == []


FAIL_AFTER = """
import sys
from vsvfi.runtime import RifeEngine
real, calls = RifeEngine.synthesize, [0]
def flaky(self, pair, t, ensemble=False, **kw):
    calls[0] += 1
    if calls[0] > 8:
        raise MemoryError("simulated ONNX Runtime out of memory")
    return real(self, pair, t, ensemble, **kw)
RifeEngine.synthesize = flaky
from vsvfi.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_cli_error_mid_encode_keeps_the_old_output(clip_with_audio, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    r = subprocess.run([sys.executable, "-c", FAIL_AFTER, str(clip_with_audio), "-o", str(out), "--overwrite",
                        "--no-progress"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vsvfi: error: interpolation failed: output frame")
    assert "MemoryError: simulated ONNX Runtime out of memory" in lines[0]
    assert out.read_bytes() == b"previous result" and not _partials(tmp_path)


def test_cli_overwrite_replaces_only_with_the_flag(clip_with_audio, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    _fails([str(clip_with_audio), "-o", str(out)], f"output {out} exists; pass --overwrite to replace it")
    assert out.read_bytes() == b"previous result"
    r = subprocess.run([*VSVFI, str(clip_with_audio), "-o", str(out), "--overwrite", "--no-progress"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert int(probe(out)["video"]["nb_read_frames"]) == 60 and not _partials(tmp_path)


# --- variable frame rate (issue 13) ---------------------------------------------------------------

FLASHES = (0.4, 1.6, 2.8, 3.6, 4.8, 5.6)  # seconds on the 25 fps grid before the start offset
START = 0.3


@pytest.fixture(scope="module")
def vfr_with_clicks(tmp_path_factory):
    """6 s of grey at 25 fps, then 12.5 fps from 2 s, a hole from 4.0 to 4.4 s, 25 fps again;
    one-frame white flashes at FLASHES and a click at each, everything START s late."""
    d = tmp_path_factory.mktemp("vfr")
    flashes = "+".join(f"between(t,{t - 0.001},{t + 0.001})" for t in FLASHES)
    video = d / "video.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=0x303030:size=128x96:rate=25:duration=6",
                    "-vf", f"drawbox=x=0:y=0:w=iw:h=ih:c=white:t=fill:enable='{flashes}',"
                           "select='lt(t,2)+between(t,2,3.99)*not(mod(n,2))+gte(t,4.39)'", "-fps_mode", "vfr", "-c:v", "libx264", "-crf", "10", str(video)],
                   check=True)
    rate = 48000
    audio = np.zeros(int(7 * rate), np.int16)
    for t in FLASHES:
        k = round((t + START) * rate)
        audio[k:k + 240] = (20000 * np.sin(np.arange(240) * 2 * np.pi * 1000 / rate)).astype(np.int16)
    wav = d / "clicks.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate), w.writeframes(audio.tobytes())
    path = d / "vfr.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-itsoffset", str(START), "-i", str(video), "-i", str(wav), "-map", "0:v",
                    "-map", "1:a",
                    "-c:v", "copy", "-c:a", "aac", "-b:a", "192k", "-t", "6.4", str(path)], check=True)
    return path


def _frames(path) -> list[dict]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts_time,duration_time",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["frames"]


def _flash_times(path) -> list[float]:
    """Onset times (s) of the flashes: in each run of bright frames, the first one within 1.5
    code values of the run's brightest. A flash between flat frames is interpolated, not cut
    (docs/scene-change.md, the fade test): the network's frame just before the white source
    frame is nearly white already (250 of 255), a duplicate after it exactly white."""
    pts = [float(f["pts_time"]) for f in _frames(path)]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "rawvideo", "-pix_fmt",
                          "gray", "-fps_mode", "passthrough", "-"], capture_output=True, check=True).stdout
    luma = np.frombuffer(raw, np.uint8).reshape(len(pts), -1).mean(axis=1)
    out, run = [], []
    for t, y in [*zip(pts, luma), (None, 0)]:
        if y > 100:
            run.append((y, t))
        elif run:
            top = max(y for y, _ in run)
            out.append(next(t for y, t in run if y >= top - 1.5))
            run = []
    return out


def _click_times(path) -> list[float]:
    """Times (s) where each click starts in the file's audio (decoded on its own timeline)."""
    start = float(probe(path)["audio"].get("start_time", 0))
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-f", "s16le", "-ac", "1", "-ar",
                          "48000", "-"], capture_output=True, check=True).stdout
    loud = np.flatnonzero(np.abs(np.frombuffer(raw, np.int16)) > 6000)
    onsets = loud[np.r_[True, np.diff(loud) > 4800]]
    return [start + k / 48000 for k in onsets]


def test_cli_keeps_variable_frame_rate_input_in_sync(vfr_with_clicks, tmp_path):
    assert _flash_times(vfr_with_clicks) == pytest.approx([t + START for t in FLASHES], abs=0.025)
    assert _click_times(vfr_with_clicks) == pytest.approx([t + START for t in FLASHES], abs=0.025)
    out = tmp_path / "out.mp4"
    r = subprocess.run([*VSVFI, str(vfr_with_clicks), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "variable frame rate input (2.083 to 25 fps" in r.stderr and "writing constant 50 fps" in r.stderr
    got = probe(out)
    assert Fraction(got["video"]["r_frame_rate"]) == 50
    flashes, clicks = _flash_times(out), _click_times(out)
    assert len(flashes) == len(clicks) == len(FLASHES)
    # every flash within one output frame (20 ms) of its click, the last one too
    assert max(abs(f - c) for f, c in zip(flashes, clicks)) <= 0.02, (flashes, clicks)
    # the start offset is kept and the duration is the input's, within one output frame
    src = probe(vfr_with_clicks)["video"]
    assert float(got["video"]["start_time"]) == pytest.approx(START, abs=0.021)
    end = float(_frames(vfr_with_clicks)[-1]["pts_time"]) + 0.04  # the last source frame lasts 40 ms
    assert float(got["video"]["start_time"]) + float(got["video"]["duration"]) == pytest.approx(end, abs=0.021)
    assert src["codec_name"] == "h264"


def test_vpy_script_keeps_variable_frame_rate_input_in_sync(vfr_with_clicks, tmp_path):
    vspipe = Path(sys.executable).with_name("vspipe")
    vspipe = str(vspipe) if vspipe.exists() else shutil.which("vspipe")
    out = tmp_path / "vpy.mp4"
    first = float(_frames(vfr_with_clicks)[0]["pts_time"])  # y4m has no timestamps: the offset goes to ffmpeg
    pipe = subprocess.Popen([vspipe, "-c", "y4m", str(ROOT / "scripts" / "interpolate.vpy"), "-", "-a",
                             f"src={vfr_with_clicks}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    subprocess.run(["ffmpeg", "-v", "error", "-itsoffset", str(first), "-i", "-", "-i", str(vfr_with_clicks), "-map",
                    "0:v", "-map", "1:a", "-c:v", "libx264", "-c:a", "copy", str(out)], stdin=pipe.stdout, check=True)
    assert pipe.wait() == 0
    flashes, clicks = _flash_times(out), _click_times(out)
    assert len(flashes) == len(clicks) == len(FLASHES)
    assert max(abs(f - c) for f, c in zip(flashes, clicks)) <= 0.02, (flashes, clicks)
    assert Fraction(probe(out)["video"]["r_frame_rate"]) == 50

"""Scale-out on Ray (issue 14): a local cluster started by each test, loopback only.

The single-process render is the reference: the chunked one must decode to exactly the same
frames (lossless x264 at --crf 0 on both sides, frames compared by ffmpeg's framemd5)."""

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest
import vapoursynth as vs

from vsvfi import arguments, scaleout
from vsvfi.scenes import is_cut, pair_stats

from .conftest import default_sigint
from .test_cli import VSVFI, clip_with_audio, probe  # noqa: F401 (a fixture)

core = vs.core
EXCERPT = ["--end", "100f"]  # bikes 0..99: cuts after source frames 29 and 75


def framemd5(path) -> list[str]:
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def single(sample, tmp_path_factory):
    """Single-process lossless renders of the bikes excerpt: {ratio: path}."""
    d = tmp_path_factory.mktemp("single")
    out = {}
    for ratio in ("2", "5/2"):
        out[ratio] = d / f"{ratio.replace('/', '_')}.mkv"
        r = subprocess.run([*VSVFI, sample("bikes"), "-o", str(out[ratio]), *EXCERPT, "--ratio", ratio, "--crf", "0",
                            "--no-progress"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    return out


def scaled(src, dst, *extra, **popen):
    cmd = [*VSVFI, str(src), "-o", str(dst), "--crf", "0", "--no-progress", *extra]
    if popen:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.mark.parametrize("ratio", ["2", "5/2"])
def test_chunks_decode_to_the_single_process_frames(sample, single, tmp_path, ratio):
    out = tmp_path / "scaled.mkv"
    r = scaled(sample("bikes"), out, *EXCERPT, "--ratio", ratio, "--workers", "2", "--chunk-seconds", "1",
               "--intermediate", "lossless", "--work-dir", str(tmp_path / "work"))
    assert r.returncode == 0, r.stderr
    assert "rendered, 0 reused) on 2 Ray CPU slots" in r.stdout
    ref = framemd5(single[ratio])
    assert len(ref) == int(100 * Fraction(ratio)) and framemd5(out) == ref
    assert probe(out)["video"]["r_frame_rate"] == probe(single[ratio])["video"]["r_frame_rate"]
    assert not list((tmp_path / "work").rglob("chunk_*"))  # cleaned up after the join


@pytest.mark.parametrize("ratio", ["2", "5/2"])
def test_plan_puts_boundaries_on_scene_cuts(sample, ratio):
    clip = core.bs.VideoSource(sample("bikes"))
    options = {"ratio": ratio}
    chunks = scaleout.plan(clip, options, 2.0, snap=True)
    timeline = arguments.output_timeline(clip, ratio, None, None)
    assert chunks[0].start == 0 and chunks[-1].end == timeline.length
    assert all(a.end == b.start for a, b in zip(chunks, chunks[1:]))
    stats = pair_stats(clip)
    cuts = {j for j in range(clip.num_frames - 1)
            if is_cut(clip.get_frame(j).props, clip.get_frame(j + 1).props, stats.get_frame(j).props, 0.34)}
    assert cuts == {29, 75, 136, 186, 241}
    for c in chunks[1:]:
        # the first output frame after a cut: the frame before it is frame i's duplicate
        # across the cut, so no synthesized pair straddles the boundary
        before, first = timeline.position(c.start - 1)[0], timeline.position(c.start)[0]
        assert before in cuts and first == before + 1, (c, before, first)
    unsnapped = scaleout.plan(clip, options, 2.0, snap=False)
    assert {c.end - c.start for c in unsnapped[:-1]} == {round(2 * 25 * Fraction(ratio))}


def test_audio_is_muxed_once_and_in_sync(clip_with_audio, tmp_path):
    one, many = tmp_path / "one.mp4", tmp_path / "many.mp4"
    assert scaled(clip_with_audio, one).returncode == 0
    r = scaled(clip_with_audio, many, "--workers", "2", "--chunk-seconds", "0.3")
    assert r.returncode == 0, r.stderr
    a, b = probe(one), probe(many)
    assert b["audio"]["codec_name"] == "aac" and int(b["video"]["nb_read_frames"]) == int(a["video"]["nb_read_frames"])
    streams = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(many)],
                                        capture_output=True, text=True, check=True).stdout)["streams"]
    assert sum(s["codec_type"] == "audio" for s in streams) == 1
    frame = 1001 / 60000
    assert abs(float(a["audio"]["duration"]) - float(b["audio"]["duration"])) <= frame
    assert abs(float(a["video"]["duration"]) - float(b["video"]["duration"])) <= frame


def test_a_killed_worker_has_its_chunk_rerun(sample, single, tmp_path):
    out = tmp_path / "scaled.mkv"
    proc = scaled(sample("bikes"), out, *EXCERPT, "--workers", "2", "--chunk-seconds", "1",
                  "--work-dir", str(tmp_path / "work"), cwd=tmp_path)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and proc.poll() is None:
        found = subprocess.run(["pgrep", "-f", "ray::render_chunk"], capture_output=True, text=True).stdout.split()
        if found:
            time.sleep(1.0)  # mid-chunk
            killed = int(found[0])
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    stdout, stderr = proc.communicate(timeout=600)
    assert killed is not None, "no worker was seen rendering"
    assert proc.returncode == 0, stderr
    assert framemd5(out) == framemd5(single["2"])


def test_an_interrupted_run_resumes_with_the_finished_chunks(sample, single, tmp_path):
    out, work = tmp_path / "scaled.mkv", tmp_path / "work"
    args = [*EXCERPT, "--workers", "1", "--chunk-seconds", "1", "--work-dir", str(work)]
    proc = scaled(sample("bikes"), out, *args, cwd=tmp_path, preexec_fn=default_sigint)
    deadline = time.monotonic() + 300
    while not list(work.rglob("chunk_*.mkv.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and not out.exists(), stderr
    done = len(list(work.rglob("chunk_*.mkv.json")))
    assert 1 <= done < 3
    r = scaled(sample("bikes"), out, *args)
    assert r.returncode == 0, r.stderr
    assert f"3 chunks ({3 - done} rendered, {done} reused)" in r.stdout
    assert framemd5(out) == framemd5(single["2"])


def test_messages(tmp_path, monkeypatch):
    assert scaleout.concat_list(["a'b.mkv", "c d.mkv"]) == "ffconcat version 1.0\nfile 'a'\\''b.mkv'\nfile 'c d.mkv'\n"
    job = scaleout.Job(str(tmp_path / "nope.mp4"), str(tmp_path / "idx"), 0, 1, {}, 18, "medium", False, 1,
                       str(tmp_path))
    with pytest.raises(scaleout.ScaleOutError, match="cannot read the input .*nope.mp4 .*shared storage"):
        scaleout.open_source(job)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(scaleout.ScaleOutError, match=r"need Ray: pip install 'vsvfi\[ray\]'"):
        scaleout._start_ray(scaleout.Settings(2, None, 60, False, None), gpu=False)


def test_bad_scale_out_flags(sample, tmp_path):
    r = scaled(sample("bikes"), tmp_path / "o.mkv", "--workers", "0")
    assert r.returncode == 1 and "--workers must be >= 1" in r.stderr
    r = scaled(sample("bikes"), tmp_path / "o.mkv", "--workers", "1", "--chunk-seconds", "0")
    assert r.returncode == 1 and "--chunk-seconds must be > 0" in r.stderr


def test_a_failing_frame_names_its_chunk(clip_with_audio, tmp_path, monkeypatch):
    """A data error inside a chunk (here the network failing on one pair) is a ScaleOutError
    naming the chunk and its output frames, and leaves no chunk file (rendered in-process,
    as a Ray worker runs it)."""
    from vsvfi.runtime import RifeEngine

    def fail(self, pair, t, ensemble=False, **kw):
        raise MemoryError("simulated ONNX Runtime out of memory")

    monkeypatch.setattr(RifeEngine, "synthesize", fail)
    job = scaleout.Job(str(clip_with_audio), str(tmp_path / "idx"), 0, 30, {"ratio": 2, "provider": "cpu"}, 18,
                       "medium", False, 1, str(tmp_path))
    with pytest.raises(scaleout.ScaleOutError, match=r"^chunk 1 \(output frames 20\.\.39\): .*simulated ONNX"):
        scaleout.render_chunk(job, scaleout.Chunk(1, 20, 40))
    assert not list(tmp_path.glob("chunk_*"))


def test_joins_a_running_cluster(sample, single, tmp_path):
    """--ray-address: the multi-machine path of docs/scale-out.md on one machine, with
    Ray's token authentication on both sides."""
    import socket

    ray_cli = str(Path(sys.executable).with_name("ray"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    subprocess.run([ray_cli, "start", "--head", f"--port={port}", "--num-cpus=2", "--node-ip-address=127.0.0.1",
                    "--include-dashboard=false", "--disable-usage-stats"], env=env, check=True, capture_output=True)
    try:
        out = tmp_path / "joined.mkv"
        r = subprocess.run([*VSVFI, sample("bikes"), "-o", str(out), "--crf", "0", "--no-progress", *EXCERPT,
                            "--ray-address", f"127.0.0.1:{port}", "--chunk-seconds", "1",
                            "--work-dir", str(tmp_path / "work")], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert "on 2 Ray CPU slots" in r.stdout
        assert framemd5(out) == framemd5(single["2"])
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True)

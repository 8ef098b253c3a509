"""Render one video on a Ray cluster (``vsvfi INPUT -o OUTPUT --workers N`` or
``--ray-address ADDR``): the output timeline is planned once, split into chunks of output
frames, rendered by Ray tasks through the same lazy filter, and joined in order.

- **Plan** (:func:`plan`): chunks of about ``chunk_seconds`` of output. A boundary moves to
  the first output frame after a scene cut when the filter's own detector
  (:func:`vsvfi.scenes.is_cut`) finds one within :data:`SNAP_SECONDS` of it. A chunk is a
  range of output frame numbers of the one global clip, so the chunks together are exactly
  the single-process render whatever the boundaries (a chunk at a non-cut boundary just
  decodes the one source frame before it again).
- **Workers** (:func:`render_chunk`, a Ray task with retries): open the source with the
  shared bestsource index, build the same ``Interpolate`` clip, encode their range with the
  final x264 settings (or FFV1, lossless, with ``lossless``) into the work directory under a
  generated name, check its frame count and report progress to a :class:`Progress` actor.
- **Driver** (:func:`run`): one progress bar, ffmpeg's concat demuxer, the input's audio
  muxed once, atomic rename. A worker that dies has its chunk rerun by Ray (``max_retries``);
  a rerun of the same command skips chunks already finished and verified (work directory
  keyed by the input and every option); a chunk that fails for a data reason stops the job
  with a message naming the chunk and its frames.

docs/scale-out.md covers running it on several machines and what it costs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

#: Default chunk length, seconds of output.
CHUNK_SECONDS = 60.0
#: A chunk boundary moves to a scene cut at most this far away (seconds of source).
SNAP_SECONDS = 2.0
#: Ray retries of a chunk whose worker died (process killed, node lost).
MAX_RETRIES = 3
#: Seconds between a worker's progress reports.
REPORT_EVERY = 0.5


class ScaleOutError(Exception):
    """A scale-out failure, with the message for the user."""


@dataclass(frozen=True)
class Chunk:
    """Output frames ``start`` .. ``end - 1`` of the global clip, the ``index``-th chunk."""

    index: int
    start: int
    end: int

    @property
    def name(self) -> str:  # generated, never from the input's name
        return f"chunk_{self.index:05d}.mkv"


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to render a chunk, the same for every chunk.

    ``src``: the input (a path every worker can read); ``index``: bestsource's index file
    prefix on shared storage; ``first``/``count``: the source frames rendered (``--start``/
    ``--end``); ``options``: :func:`vsvfi.Interpolate` keyword arguments; ``threads``:
    VapourSynth and ONNX Runtime threads per task; ``work``: the work directory.
    """

    src: str
    index: str
    first: int
    count: int
    options: dict
    crf: int
    preset: str
    lossless: bool
    threads: int
    work: str
    ffmpeg: str = "ffmpeg"


def open_source(job: Job):
    """The source clip (``--start``/``--end`` applied), indexed once into ``job.index``."""
    import vapoursynth as vs

    if not os.access(job.src, os.R_OK):
        raise ScaleOutError(f"cannot read the input {job.src} on this machine ({os.uname().nodename}); workers "
                            "need it on shared storage at the same path")
    clip = vs.core.bs.VideoSource(job.src, cachemode=4, cachepath=job.index)
    return clip if job.count == clip.num_frames else clip[job.first:job.first + job.count]


def output_clip(job: Job, source=None):
    """The one global output clip every chunk is a range of (of ``source``, the clip
    :func:`open_source` gives, when the caller has it already)."""
    import vsvfi

    return vsvfi.Interpolate(open_source(job) if source is None else source, **job.options)


def plan(clip, options: dict, chunk_seconds: float, snap: bool) -> list[Chunk]:
    """Chunks of about ``chunk_seconds`` of output covering the output of
    ``Interpolate(clip, **options)``; with ``snap``, each boundary moves to the output frame
    on the first source frame after a scene cut within :data:`SNAP_SECONDS` of it."""
    from . import arguments

    timeline = arguments.output_timeline(clip, options.get("ratio"), options.get("fps"), options.get("timestamps"))
    fps = timeline.fps if hasattr(timeline, "fps") else Fraction(clip.fps) * timeline.ratio
    step = max(1, round(chunk_seconds * fps))
    near_cut = _cut_finder(clip, options, timeline) if snap and options.get("scene_change") is not False else None
    bounds, n = [0], step
    while n < timeline.length:
        moved = near_cut(n) if near_cut else n
        if bounds[-1] < moved < timeline.length:
            bounds.append(moved)
        n = max(n, bounds[-1]) + step
    bounds.append(timeline.length)
    return [Chunk(k, a, b) for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def _cut_finder(clip, options: dict, timeline):
    """A function: output frame n -> the output frame on the first source frame after the
    scene cut nearest to n's source frame within :data:`SNAP_SECONDS`, or n itself."""
    from .scenes import SC_THRESHOLD, is_cut, pair_stats

    threshold = options.get("sc_threshold", SC_THRESHOLD)
    stats = pair_stats(clip)
    reach = max(1, round(SNAP_SECONDS * (clip.fps if clip.fps > 0 else Fraction(25))))
    first_out = _first_outputs(timeline)

    def near_cut(n: int) -> int:
        i = timeline.position(n)[0]
        for j in sorted(range(max(0, i - reach), min(clip.num_frames - 1, i + reach)), key=lambda j: (abs(j - i), j)):
            if is_cut(clip.get_frame(j).props, clip.get_frame(j + 1).props, stats.get_frame(j).props, threshold):
                return first_out(j + 1)
        return n

    return near_cut


def _first_outputs(timeline):
    """A function: source frame i -> the first output frame whose source position is >= i."""
    def first(i: int) -> int:
        lo, hi = 0, timeline.length
        while lo < hi:
            mid = (lo + hi) // 2
            if timeline.position(mid)[0] >= i:
                hi = mid
            else:
                lo = mid + 1
        return lo
    return first


def work_key(src: Path, job_fields: dict) -> str:
    """Work-directory name for an input and every option that changes the chunks: a
    rerun of the same command finds its finished chunks, any change starts afresh."""
    st = src.stat()
    ident = json.dumps({"src": str(src.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns, **job_fields},
                       sort_keys=True, default=str)
    return hashlib.sha256(ident.encode()).hexdigest()[:20]


def count_frames(path: Path, ffprobe: str = "ffprobe") -> int:
    """Video packets in a file (one per frame in the chunks written here)."""
    out = subprocess.run([ffprobe, "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                          "stream=nb_read_packets", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    try:
        return int(out.stdout.strip().split(",")[0])
    except ValueError:
        return -1


def finished(work: Path, chunk: Chunk) -> bool:
    """Whether ``chunk`` was rendered and verified by an earlier run: its file, a record of
    its size and frame count, and a frame count that still matches."""
    path, record = work / chunk.name, work / f"{chunk.name}.json"
    try:
        info = json.loads(record.read_text())
    except (OSError, ValueError):
        return False
    return (path.is_file() and info.get("bytes") == path.stat().st_size and info.get("frames") == chunk.end - chunk.start
            and count_frames(path) == chunk.end - chunk.start)


def render_chunk(job: Job, chunk: Chunk, progress=None) -> dict:
    """Render ``chunk`` into ``job.work`` (a Ray task body; also callable directly).
    Returns {"index", "frames", "seconds"}; raises ScaleOutError naming the chunk when a
    frame or the encoder fails."""
    import vapoursynth as vs

    from .colour import y4m_ready

    t0 = time.perf_counter()
    vs.core.num_threads = job.threads
    what = f"chunk {chunk.index} (output frames {chunk.start}..{chunk.end - 1})"
    work = Path(job.work)
    path, tmp = work / chunk.name, work / f"{chunk.name}.part.mkv"
    clip = y4m_ready(output_clip(job)[chunk.start:chunk.end])
    codec = (["-c:v", "ffv1", "-level", "3"] if job.lossless
             else ["-c:v", "libx264", "-crf", str(job.crf), "-preset", job.preset])
    cmd = [job.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "yuv4mpegpipe", "-i", "-",
           "-an", "-fps_mode", "passthrough", *codec, str(tmp)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    last = [0.0]

    def report(done, total):
        if progress is not None and (time.monotonic() - last[0] > REPORT_EVERY or done == total):
            last[0] = time.monotonic()
            progress.set.remote(chunk.index, done)

    try:
        clip.output(proc.stdin, y4m=True, progress_update=report)
        proc.stdin.close()
    except vs.Error as e:
        proc.kill()
        proc.wait()
        tmp.unlink(missing_ok=True)
        raise ScaleOutError(f"{what}: {str(e).strip().splitlines()[-1]}") from None
    err = proc.stderr.read().decode(errors="replace").strip()
    if proc.wait() != 0:
        tmp.unlink(missing_ok=True)
        raise ScaleOutError(f"{what}: the encoder failed: {err.splitlines()[-1] if err else proc.returncode}")
    frames = count_frames(tmp)
    if frames != chunk.end - chunk.start:
        raise ScaleOutError(f"{what}: wrote {frames} frames, expected {chunk.end - chunk.start}")
    os.replace(tmp, path)
    (work / f"{chunk.name}.json").write_text(json.dumps({"frames": frames, "bytes": path.stat().st_size}))
    return {"index": chunk.index, "frames": frames, "seconds": time.perf_counter() - t0}


def concat_list(names: list[str]) -> str:
    """ffmpeg concat-demuxer script for files in its own directory: each name quoted, a
    quote inside written as '\\'' (ffmpeg's escaping), so no name can add a directive."""
    return "ffconcat version 1.0\n" + "".join("file '" + n.replace("'", "'\\''") + "'\n" for n in names)


@dataclass
class Settings:
    """The scale-out flags of the command line."""

    workers: int | None
    address: str | None
    chunk_seconds: float
    lossless: bool
    work_dir: str | None


def _start_ray(settings: Settings, gpu: bool):
    """Start a local cluster of ``settings.workers`` CPU slots (node address 127.0.0.1, no
    dashboard, token authentication), or join ``settings.address`` (token authentication as
    Ray is configured: RAY_AUTH_MODE, RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH in the
    environment; never printed here). Raises ScaleOutError when Ray is not installed."""
    if not settings.address and "ray" not in sys.modules:
        # Ray's own servers listen on every interface even for a local cluster (Ray 2.60 has
        # no setting to restrict them): require its token (ray.init generates one into
        # ~/.ray), unless the user set RAY_AUTH_MODE. Ray reads it when imported.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    try:
        import ray
    except ImportError:
        raise ScaleOutError("--workers and --ray-address need Ray: pip install 'vsvfi[ray]'") from None
    quiet = dict(log_to_driver=False, configure_logging=True, logging_level="ERROR")
    if settings.address:
        ray.init(address=settings.address, **quiet)
    else:
        if os.environ.get("RAY_AUTH_MODE", "token").lower() != "token":
            print("vsvfi: warning: RAY_AUTH_MODE is not 'token': the local Ray cluster's ports accept anyone who "
                  "can reach this machine", file=sys.stderr)
        ray.init(num_cpus=settings.workers, num_gpus=1 if gpu else 0, include_dashboard=False,
                 _node_ip_address="127.0.0.1", **quiet)
    return ray


def _progress_actor(ray):
    @ray.remote(num_cpus=0)
    class Progress:
        """Output frames done per chunk (a retried chunk starts again from 0)."""

        def __init__(self):
            self.done = {}

        def set(self, index: int, frames: int) -> None:
            self.done[index] = frames

        def total(self) -> int:
            return sum(self.done.values())

    return Progress.remote()


def render_all(job: Job, chunks: list[Chunk], settings: Settings, gpu: bool, bar=None) -> dict:
    """Render the chunks not finished yet on Ray; {"rendered": n, "reused": n, "workers": n}.
    Raises ScaleOutError for a chunk that fails for a data reason (after stopping the rest)."""
    work = Path(job.work)
    todo = [c for c in chunks if not finished(work, c)]
    reused = sum(c.end - c.start for c in chunks if c not in todo)
    if bar is not None:
        bar.update(reused)
    if not todo:
        return {"rendered": 0, "reused": len(chunks), "workers": 0}
    ray = _start_ray(settings, gpu)
    try:
        slots = int(ray.cluster_resources().get("CPU", 1))
        task = ray.remote(render_chunk).options(max_retries=MAX_RETRIES, retry_exceptions=False,
                                                num_cpus=1 if settings.workers else job.threads,
                                                num_gpus=1 if gpu else 0)
        progress = _progress_actor(ray)
        pending = {task.remote(job, c, progress): c for c in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=REPORT_EVERY)
            for ref in ready:
                chunk = pending.pop(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayTaskError as e:
                    for other in pending:
                        ray.cancel(other, force=True)
                    cause = e.cause
                    raise ScaleOutError(str(cause) if isinstance(cause, ScaleOutError) else
                                        f"chunk {chunk.index} (output frames {chunk.start}..{chunk.end - 1}): "
                                        f"{type(cause).__name__}: {cause}") from None
            if bar is not None:
                bar.update(reused + ray.get(progress.total.remote()) - bar.n)
        return {"rendered": len(todo), "reused": len(chunks) - len(todo), "workers": slots}
    finally:
        ray.shutdown()


def join(job: Job, chunks: list[Chunk], dst_tmp: Path, audio_args: list[str], video_offset: float) -> None:
    """The chunks in order into ``dst_tmp`` (concat demuxer), re-encoded once with the final
    x264 settings when they are lossless intermediates, else copied; the input's audio is
    muxed once. Raises ScaleOutError with ffmpeg's message."""
    work = Path(job.work)
    (work / "concat.txt").write_text(concat_list([c.name for c in chunks]))
    video = (["-c:v", "libx264", "-crf", str(job.crf), "-preset", job.preset] if job.lossless else ["-c:v", "copy"])
    cmd = [job.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-itsoffset", f"{video_offset:.6f}",
           "-f", "concat", "-safe", "0", "-i", str(work / "concat.txt"), *audio_args, "-i", job.src,
           "-map", "0:v:0", "-map", "1:a?", "-fps_mode:v", "passthrough", *video, "-c:a", "copy", str(dst_tmp)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        err = r.stderr.strip().replace(str(dst_tmp), "the output")
        raise ScaleOutError(f"joining the chunks failed: {err.splitlines()[-1] if err else r.returncode}")

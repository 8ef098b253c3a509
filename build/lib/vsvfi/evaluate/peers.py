"""The output of each method for a kept clip: vsvfi, the baselines (dup, blend), MVTools
(FlowFPS, BlockFPS) as lazy VapourSynth clips, and ffmpeg minterpolate as a subprocess
whose frames are read in order; all converted to RGB24 arrays."""

from __future__ import annotations

import subprocess
import threading
from fractions import Fraction
from typing import Iterator

import numpy as np
import vapoursynth as vs

from .convert import COLOUR_PROPS, _fetch, rgb_array, to_rgb24
from .methods import Method, _ffmpeg

core = vs.core

#: ffmpeg minterpolate settings used for the ``minterpolate`` method (fps is added).
MINTERPOLATE = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir"


class _VSOutput:
    """A method's output as a lazy VapourSynth clip, converted to RGB24."""

    def __init__(self, rgb: vs.VideoNode):
        self.rgb, self.num_frames = rgb, rgb.num_frames

    def render(self, positions: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        for n, f in _fetch(self.rgb, positions):
            yield n, rgb_array(f)

    def frame(self, n: int) -> np.ndarray | None:
        return rgb_array(self.rgb.get_frame(n)) if 0 <= n < self.num_frames else None

    def close(self) -> int:
        return self.num_frames


_PIX_FMT = {(vs.YUV, 1, 1): "yuv420p", (vs.YUV, 1, 0): "yuv422p", (vs.YUV, 0, 0): "yuv444p",
            (vs.YUV, 2, 2): "yuv410p", (vs.YUV, 2, 0): "yuv411p", (vs.YUV, 0, 1): "yuv440p", (vs.GRAY, 0, 0): "gray"}


class _FFmpegOutput:
    """ffmpeg minterpolate on the kept clip: y4m in on stdin (written by a thread), raw
    frames of the same pixel format out on stdout, read in order as positions are asked
    for. minterpolate emits (M - 2) * k + 1 frames for M inputs, holding back the last
    pair, so the last kept frame is fed twice; that adds frames only after it."""

    HEAD = 64  # frames kept for the alignment offset search

    def __init__(self, kept: vs.VideoNode, k: int, colour: dict, exe: str):
        fmt = kept.format
        self.fmt, self.w, self.h, self.colour = fmt, kept.width, kept.height, colour
        self.pix_fmt = _PIX_FMT[(fmt.color_family, fmt.subsampling_w, fmt.subsampling_h)]
        self.shapes = [(self.h >> (fmt.subsampling_h if p else 0), self.w >> (fmt.subsampling_w if p else 0))
                       for p in range(fmt.num_planes)]
        self.frame_bytes = sum(a * b for a, b in self.shapes)
        self.node = kept + kept[-1]
        fps = Fraction(kept.fps.numerator, kept.fps.denominator) * k
        self.cmd = [exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "yuv4mpegpipe", "-i", "-",
                    "-vf", f"minterpolate=fps={fps.numerator}/{fps.denominator}:{MINTERPOLATE}",
                    "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", self.pix_fmt, "-"]
        self.proc = None
        self.index = 0
        self.head: dict[int, bytes] = {}
        self.errors: list[str] = []
        self.stderr = b""
        self.num_frames = None

    def _start(self):
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def write():
            try:
                self.node.output(self.proc.stdin, y4m=True)
            except BrokenPipeError:
                pass
            except Exception as e:  # decoding failed: make it visible
                self.errors.append(f"feeding ffmpeg: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            finally:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass

        def drain_err():
            self.stderr = self.proc.stderr.read()

        self.threads = [threading.Thread(target=write, daemon=True), threading.Thread(target=drain_err, daemon=True)]
        for t in self.threads:
            t.start()

    def _next(self) -> bytes | None:
        data = self.proc.stdout.read(self.frame_bytes)
        if len(data) < self.frame_bytes:
            return None
        if self.index < self.HEAD:
            self.head[self.index] = data
        self.index += 1
        return data

    def _to_rgb(self, data: bytes) -> np.ndarray:
        blank = core.std.BlankClip(format=self.fmt.id, width=self.w, height=self.h, length=1, keep=True)
        buf = np.frombuffer(data, np.uint8)

        def fill(n, f):
            out = f.copy()
            off = 0
            for p, (h, w) in enumerate(self.shapes):
                np.copyto(np.asarray(out[p]), buf[off:off + h * w].reshape(h, w))
                off += h * w
            return out

        return rgb_array(to_rgb24(core.std.ModifyFrame(blank, blank, fill), self.colour).get_frame(0))

    def render(self, positions: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        if self.proc is None:
            self._start()
        for n in positions:
            while self.index <= n:
                i, data = self.index, self._next()
                if data is None:
                    return
                if i == n:
                    yield n, self._to_rgb(data)

    def frame(self, n: int) -> np.ndarray | None:
        return self._to_rgb(self.head[n]) if n in self.head else None

    def close(self) -> int:
        if self.proc is None:
            self._start()
        while self._next() is not None:
            pass
        rc = self.proc.wait()
        for t in self.threads:
            t.join(timeout=10)
        if rc != 0:
            err = self.stderr.decode(errors="replace").strip().splitlines()
            self.errors.append(f"ffmpeg failed: {err[-1] if err else f'exit status {rc}'}")
        self.num_frames = self.index
        return self.index

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _peer_input(kept: vs.VideoNode, colour: dict, *, bits_max: int) -> tuple[vs.VideoNode, dict]:
    """The kept clip in a format a peer takes (integer YUV/GRAY of at most ``bits_max``
    bits, 8-bit ffmpeg subsamplings), and the colour arguments that bring it back to RGB.
    RGB sources become YUV 4:4:4 BT.709 full range; deeper YUV keeps its colour."""
    fmt = kept.format
    fam = fmt.color_family
    if fam in (vs.YUV, vs.GRAY) and fmt.sample_type == vs.INTEGER and fmt.bits_per_sample <= bits_max and \
            (bits_max > 8 or (fam, fmt.subsampling_w, fmt.subsampling_h) in _PIX_FMT):
        return kept, colour
    bits = min(bits_max, 16)
    if fam == vs.RGB:
        target = core.query_video_format(vs.YUV, vs.INTEGER, bits, 0, 0)
        return (core.resize.Bicubic(kept, format=target.id, matrix_s="709", range_s="full", dither_type="none"),
                {"matrix_in_s": "709", "range_in_s": "full", "chromaloc_in": 0})
    ss = (fmt.subsampling_w, fmt.subsampling_h) if (vs.YUV, fmt.subsampling_w, fmt.subsampling_h) in _PIX_FMT else (0, 0)
    target = core.query_video_format(fam, vs.INTEGER, bits, *(ss if fam == vs.YUV else (0, 0)))
    node = core.std.RemoveFrameProps(kept, list(COLOUR_PROPS))
    rng = colour.get("range_in_s", "limited")
    out = core.resize.Bicubic(node, format=target.id, range_in_s=rng, range_s=rng, dither_type="none",
                              **({"chromaloc_in": colour.get("chromaloc_in", 0), "chromaloc": colour.get("chromaloc_in", 0)}
                                 if fam == vs.YUV else {}))
    return out, colour


def build_output(method: Method, kept: vs.VideoNode, k: int, colour: dict, provider: str):
    """The method's output for ``kept`` at ratio ``k`` as an object with render(positions)
    -> iterator of (n, (H, W, 3) uint8), frame(n), close() -> frame count. Raises vs.Error
    (or TypeError for an unknown Interpolate keyword) when the method cannot be built."""
    kind = method.kind
    if kind == "vsvfi":
        from .. import Interpolate

        out = Interpolate(kept, ratio=k, model=method.model, **{"provider": provider, **dict(method.options)})
        return _VSOutput(to_rgb24(out, colour))
    if kind == "dup":
        return _VSOutput(to_rgb24(core.std.Interleave([kept] * k), colour))
    if kind == "blend":
        a = to_rgb24(kept, colour)
        b = a[1:] + a[-1]
        phases = [a] + [core.std.Expr([a, b], f"x {1 - p / k!r} * y {p / k!r} * +") for p in range(1, k)]
        return _VSOutput(core.std.Interleave(phases))
    fps = Fraction(kept.fps.numerator, kept.fps.denominator) * k
    if kind in ("mv-flowfps", "mv-blockfps"):
        src, back = _peer_input(kept, colour, bits_max=16)
        sup = core.mv.Super(src)
        bw = core.mv.Analyse(sup, isb=True)
        fw = core.mv.Analyse(sup, isb=False)
        fn = core.mv.FlowFPS if kind == "mv-flowfps" else core.mv.BlockFPS
        return _VSOutput(to_rgb24(fn(src, sup, bw, fw, num=fps.numerator, den=fps.denominator), back))
    if kind == "minterpolate":
        exe = _ffmpeg()
        if exe is None:
            raise vs.Error("ffmpeg with the minterpolate filter is not on PATH")
        src, back = _peer_input(kept, colour, bits_max=8)
        return _FFmpegOutput(src, k, back, exe)
    raise ValueError(kind)

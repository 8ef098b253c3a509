"""Scoring for the evaluation: PSNR, SSIM and ꟻLIP of RGB24 arrays, running every method on a
kept clip against the dropped originals (with timing and the alignment check), and the
per-source results of a video at one k or of a directory of triplets."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import vapoursynth as vs

from .convert import _fetch, colour_args, rgb_array, to_rgb24
from .methods import EvaluateError, Method
from .peers import _FFmpegOutput, _VSOutput, build_output
from .sources import Source, _triplet_clip

#: PSNR of two identical frames (dB); keeps means finite.
PSNR_CAP = 100.0
#: Minimum PSNR (dB) of a method's output at the kept positions against the kept frames.
ALIGN_DB = 48.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays of one shape, peak 255; :data:`PSNR_CAP` if equal."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse))


def _ssim_fn():
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        raise EvaluateError("SSIM needs scikit-image: pip install 'vsvfi[evaluate]', or pass --no-ssim") from None
    return lambda a, b: float(structural_similarity(a, b, channel_axis=2, data_range=255))


def flip(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean LDR-ꟻLIP error of two (H, W, 3) uint8 sRGB arrays of one shape (as float
    0..1; default viewing conditions, 67 pixels per degree): 0 for identical frames, up
    to 1, higher is worse. Raises EvaluateError when flip-evaluator is not installed."""
    try:
        import flip_evaluator
    except ImportError:
        raise EvaluateError("ꟻLIP needs flip-evaluator: pip install flip-evaluator (or 'vsvfi[evaluate]'), "
                            "or turn ꟻLIP off (--no-flip)") from None
    ref = reference.astype(np.float32) / 255.0
    out = test.astype(np.float32) / 255.0
    # a fresh parameters dict each call (the API's default is a shared mutable one);
    # no colour map: only the mean error is used
    _, mean, _ = flip_evaluator.evaluate(ref, out, "LDR", applyMagma=False, computeMeanError=True, parameters={})
    return float(mean)


def _flip_fn():
    """:func:`flip`, after checking that flip-evaluator can be imported (EvaluateError if not)."""
    flip(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8))
    return flip


@dataclass
class MethodResult:
    """Scores of one method on one source at one k. psnr/ssim/flip: per scored frame (dB,
    0..1, mean ꟻLIP 0..1 with 0 = identical), in the order of ``frames`` (output frame
    numbers, or triplet names; ssim/flip empty when not computed); seconds:
    wall time producing output frames; kept_db: worst PSNR at the kept positions."""

    method: str
    frames: list = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    flip: list[float] = field(default_factory=list)
    seconds: float = 0.0
    kept_db: float = PSNR_CAP
    output_frames: int | None = None
    errors: list[str] = field(default_factory=list)
    misaligned: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.misaligned is None and bool(self.psnr)

    @property
    def mean_psnr(self) -> float | None:
        return float(np.mean(self.psnr)) if self.ok else None

    @property
    def mean_ssim(self) -> float | None:
        return float(np.mean(self.ssim)) if self.ok and self.ssim else None

    @property
    def mean_flip(self) -> float | None:
        return float(np.mean(self.flip)) if self.ok and self.flip else None

    @property
    def fps(self) -> float | None:
        return len(self.psnr) / self.seconds if self.ok and self.seconds > 0 else None

    @property
    def status(self) -> str:
        if self.errors:
            return "failed: " + self.errors[0] + (f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else "")
        if self.misaligned:
            return "misaligned: " + self.misaligned
        return "" if self.psnr else "nothing scored"


@dataclass
class SourceResult:
    """One source at one k. excluded: pairs not scored, each {"frames": [a, b], "cuts":
    [[i, i + 1], ...]}; pairs: number of scored pairs; strip: data for the image strip."""

    source: str
    kind: str
    path: str
    k: int
    width: int
    height: int
    frames: int
    kept: int
    pairs: int
    excluded: list[dict]
    methods: dict[str, MethodResult]
    note: str = ""
    strip: dict | None = None


@dataclass
class _Unit:
    """One kept clip to interpolate: ``open()`` gives the full-rate original; ``pairs``
    the indices j of kept pairs (j * k, (j + 1) * k) to score; ``ids`` names its frames."""

    open: Callable[[], vs.VideoNode]
    k: int
    pairs: list[int]
    ids: Callable[[int], object] = lambda n: n


def _chunks(positions: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(positions), size):
        yield positions[i:i + size]


def _run_unit(unit: _Unit, methods: list[Method], results: dict[str, MethodResult], ssim, provider: str,
              strip_at: int | None = None, strip: dict | None = None, flip=None) -> None:
    """Evaluate every method on one unit, adding to ``results``; methods are interleaved
    per chunk of positions so that ground truth is decoded once and memory stays bounded.
    ``ssim``, ``flip``: per-frame scorers (gt, out) -> float, or None to skip."""
    k = unit.k
    gt_clip = unit.open()
    colour = colour_args(gt_clip, gt_clip.get_frame(0).props)
    gt_rgb = to_rgb24(gt_clip, colour)
    m_kept = len(range(0, gt_clip.num_frames, k))
    last = (m_kept - 1) * k
    kept_pos = list(range(0, last + 1, k))
    scored = [j * k + p for j in unit.pairs for p in range(1, k)]
    needed = sorted(set(kept_pos) | set(scored))
    scored_set = set(scored)
    outs = {}
    try:
        _build_outputs(unit, methods, results, colour, provider, last, outs)
        size = max(k + 1, min(128, (256 << 20) // (gt_clip.width * gt_clip.height * 3 * (len(outs) + 1))))
        head_gt = {}
        for chunk in _chunks(needed, size):
            gt = {n: rgb_array(f) for n, f in _fetch(gt_rgb, chunk)}
            for n in kept_pos[:8]:
                if n in gt:
                    head_gt[n] = gt[n]
            if strip is not None and strip_at is not None:
                for n in (strip_at - strip_at % k, strip_at - strip_at % k + k, strip_at):
                    if n in gt:
                        strip.setdefault("gt", {})[n] = gt[n]
            for label, out in list(outs.items()):
                res = results[label]
                t0 = time.perf_counter()
                try:
                    got = dict(out.render(chunk))
                except vs.Error as e:
                    res.errors.append(f"frame error: {str(e).splitlines()[0]}")
                    del outs[label]
                    continue
                res.seconds += time.perf_counter() - t0
                missing = [n for n in chunk if n not in got]
                if missing:
                    res.errors.append(f"output ended before frame {missing[0]} (needs {last + 1} frames)")
                    del outs[label]
                    continue
                _score(res, label, got, gt, scored_set, unit.ids, (ssim, flip), strip_at, strip)
        _close_outputs(outs, results, head_gt, k)
    finally:
        for out in outs.values():
            if isinstance(out, _FFmpegOutput):
                out.kill()


def _build_outputs(unit: _Unit, methods: list[Method], results: dict[str, MethodResult], colour: dict,
                   provider: str, last: int, outs: dict) -> None:
    """Build each method's output for the unit's kept clip into ``outs`` (label -> output);
    a method that cannot be built, or whose clip is too short, gets an error instead."""
    k = unit.k
    for m in methods:
        try:
            kept = unit.open()[::k]
            out = build_output(m, kept, k, colour, provider)
        except (vs.Error, TypeError, ValueError) as e:
            results[m.label].errors.append(f"{m.label}: {str(e).splitlines()[0]}")
            continue
        if isinstance(out, _VSOutput) and out.num_frames <= last:
            results[m.label].errors.append(f"output has {out.num_frames} frames, needs {last + 1}")
            continue
        outs[m.label] = out


def _score(res: MethodResult, label: str, got: dict[int, np.ndarray], gt: dict[int, np.ndarray],
           scored_set: set[int], ids: Callable[[int], object], scorers: tuple, strip_at: int | None,
           strip: dict | None) -> None:
    """Score one chunk of a method's output frames ``got`` against the ground truth ``gt``:
    scored positions add to the per-frame values (``scorers``: the SSIM and ꟻLIP
    functions, each None when skipped), kept positions to the worst kept PSNR."""
    ssim, flip_fn = scorers
    for n, arr in got.items():
        if n in scored_set:
            res.frames.append(ids(n))
            res.psnr.append(psnr(arr, gt[n]))
            if ssim is not None:
                res.ssim.append(ssim(gt[n], arr))
            if flip_fn is not None:
                res.flip.append(flip_fn(gt[n], arr))
            if n == strip_at and strip is not None:
                strip.setdefault("out", {})[label] = (arr, res.psnr[-1])
        else:
            res.kept_db = min(res.kept_db, psnr(arr, gt[n]))


def _close_outputs(outs: dict, results: dict[str, MethodResult], head_gt: dict[int, np.ndarray], k: int) -> None:
    """Finish each output (reading what is left), record its frame count and errors, and
    explain a misaligned one."""
    for label, out in outs.items():
        res = results[label]
        count = out.close()
        res.output_frames = count if res.output_frames is None else res.output_frames + count
        res.errors.extend(getattr(out, "errors", []))
        if res.kept_db < ALIGN_DB and res.misaligned is None:
            res.misaligned = _offset_note(out, head_gt, k, res.kept_db)


def _offset_note(out, head_gt: dict[int, np.ndarray], k: int, kept_db: float) -> str:
    best = None
    for d in range(-2 * k, 2 * k + 1):
        if d == 0:
            continue
        vals = [psnr(a, g) for n, g in head_gt.items() if (a := out.frame(n + d)) is not None]
        if vals and (best is None or min(vals) > best[1]):
            best = (d, min(vals))
    note = f"output at the kept positions is {kept_db:.1f} dB from the kept frames (needs {ALIGN_DB:g})"
    if best is not None and best[1] >= ALIGN_DB:
        return note + f"; output frame n{best[0]:+d} matches original frame n (offset {best[0]:+d})"
    return note + f"; no offset within +-{2 * k} frames matches"


def evaluate_video(src: Source, k: int, methods: list[Method], ssim, provider: str, cuts: list[int],
                   strips: bool, flip=None) -> SourceResult:
    """One video source at one k (see the module docstring for the protocol); ``ssim``,
    ``flip``: per-frame scorers, or None to skip."""
    clip = src.open()
    m_kept = len(range(0, clip.num_frames, k))
    cutset = set(cuts)
    pairs, excluded = [], []
    for j in range(m_kept - 1):
        inside = [i for i in range(j * k, (j + 1) * k) if i in cutset]
        if inside:
            excluded.append({"frames": [j * k, (j + 1) * k], "cuts": [[i, i + 1] for i in inside]})
        else:
            pairs.append(j)
    results = {m.label: MethodResult(m.label) for m in methods}
    strip = {} if strips and pairs else None
    strip_at = pairs[0] * k + k // 2 if pairs else None
    if pairs:
        _run_unit(_Unit(src.open, k, pairs), methods, results, ssim, provider, strip_at, strip, flip)
    if strip is not None:
        strip.update(at=strip_at, k=k, pair=[strip_at - strip_at % k, strip_at - strip_at % k + k])
    return SourceResult(source=src.name, kind="video", path=src.path, k=k, width=clip.width, height=clip.height,
                        frames=clip.num_frames, kept=m_kept, pairs=len(pairs), excluded=excluded, methods=results,
                        note="; ".join(x for x in (src.note, "" if pairs else (
                            f"too short for k={k}" if m_kept < 2 else "every pair straddles a scene cut")) if x),
                        strip=strip)


def evaluate_triplets(src: Source, methods: list[Method], ssim, provider: str, strips: bool,
                      log: Callable[[str], None], flip=None) -> SourceResult:
    """Every triplet of a directory at k = 2: the outer images as kept frames, the middle
    one as ground truth (output frame 1)."""
    results = {m.label: MethodResult(m.label) for m in methods}
    strip = {} if strips else None
    sizes = set()
    for i, (name, paths) in enumerate(src.triplets):
        clip = _triplet_clip(name, paths)
        sizes.add((clip.width, clip.height))
        _run_unit(_Unit(lambda c=clip: c, 2, [0], ids=lambda n, name=name: name), methods, results, ssim, provider,
                  1 if i == 0 else None, strip if i == 0 else None, flip)
        if (i + 1) % 100 == 0:
            log(f"{src.name}: {i + 1}/{len(src.triplets)} triplets")
    if strip is not None:
        strip.update(at=1, k=2, pair=[0, 2], name=src.triplets[0][0])
    w, h = next(iter(sizes)) if len(sizes) == 1 else (0, 0)
    return SourceResult(source=src.name, kind="triplets", path=src.path, k=2, width=w, height=h,
                        frames=len(src.triplets), kept=2, pairs=len(src.triplets), excluded=[], methods=results,
                        note="" if len(sizes) == 1 else f"{len(sizes)} frame sizes", strip=strip)

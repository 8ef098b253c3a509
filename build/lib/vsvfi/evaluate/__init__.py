"""Frame-dropping quality evaluation (``vsvfi evaluate``).

The protocol: from a clip keep every k-th frame, interpolate the kept clip back to the
original rate (ratio k) with each method, and compare only the synthesized frames with the
originals that were dropped. With M kept frames, output frame n is scored when
``n % k != 0`` and ``n < (M - 1) * k`` (strictly between two kept frames); output frame n
is compared with original frame n.

Scores, for every source x k x method:

* PSNR in dB on RGB24 (0..255, all three channels): per frame
  ``10 * log10(255**2 / MSE)`` (identical frames count as :data:`PSNR_CAP` dB), then the
  mean over the scored frames.
* SSIM: ``skimage.metrics.structural_similarity(gt, out, channel_axis=2, data_range=255)``
  on the same RGB24 arrays (7x7 uniform window), mean over frames. Optional (slow at 720p).
* ꟻLIP (NVIDIA's perceptual image difference, package ``flip-evaluator``): mean LDR-ꟻLIP
  error of the RGB24 frames as sRGB floats in 0..1, at its default viewing conditions
  (67 pixels per degree), mean over frames; 0 = identical, higher is worse. A perceptual
  check beside PSNR, which can reward blur (a blended or averaged frame can gain dB while
  looking worse).
  Optional; about 0.1 s per frame at 640x272 and 0.5 s at 1280x720 on two CPU cores
  (about 4x and 2x SSIM).
* synthesized frames per second: scored frames / wall seconds spent producing the
  method's output frames. The wall time covers decoding the kept frames, the method and
  the conversion of its output to RGB24 (not the scoring); see :func:`run` for details.

Outputs and ground truth go through one conversion: ``core.resize.Bicubic`` (zimg) to
RGB24 with the colour description of the source's first frame (``_Matrix``, ``_Range``,
``_ChromaLocation``; when absent or unspecified: BT.709 for frames at least 1280 wide or
720 high, else BT.601; limited range; left chroma siting). Colour frame props are removed
before converting, because zimg prefers frame props over arguments and a method could
otherwise change the conversion by what it writes in its props.

Scene cuts: pairs of kept frames whose original segment contains a cut are not scored and
are listed. Cuts are found on the full-rate original with vsvfi's own measure
(:func:`vsvfi.scenes.pair_stats`, threshold :data:`vsvfi.scenes.SC_THRESHOLD`).

Methods (see :func:`parse_method`): vsvfi models with options (``rife46``,
``rife46:scale=0.5``), the baselines ``dup`` and ``blend``, and the peers ``mv-flowfps``
and ``mv-blockfps`` (MVTools) and ``minterpolate`` (ffmpeg). Every method's output at the
kept positions is compared with the kept frames; a method whose kept positions do not
match (PSNR below :data:`ALIGN_DB`) is reported as misaligned and gets no scores.

Inputs: video files (bestsource), and directories of PNG triplets in the Vimeo-90K
(``**/im1.png, im2.png, im3.png``) or Middlebury (``<seq>/frame10.png, frame10i11.png,
frame11.png``) layout, each triplet scored at k = 2 as a 3-frame clip.

The package: :mod:`.methods` (method specs, what runs here), :mod:`.sources` (inputs,
scene cuts), :mod:`.convert` (arrays <-> clips, RGB24), :mod:`.peers` (each method's
output), :mod:`.scoring` (PSNR/SSIM/ꟻLIP, running the methods), :mod:`.reports` (tables,
JSON, Markdown, strips) and :func:`run` here.
"""

from __future__ import annotations

import importlib.util
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from ..scenes import SC_THRESHOLD
from .convert import COLOUR_PROPS, FALLBACK_FPS, clip_from_arrays, colour_args, rgb_array, to_rgb24
from .methods import BASELINES, PEERS, EvaluateError, Method, availability, parse_method, resolve_methods
from .peers import MINTERPOLATE, _VSOutput, build_output
from .reports import (STRIP_MIN, STRIP_TILE, Report, draw_len, format_table, machine_info, means, to_json,
                      to_markdown, write_outputs, write_strips)
from .scoring import (ALIGN_DB, PSNR_CAP, MethodResult, SourceResult, _flip_fn, _ssim_fn, evaluate_triplets,
                      evaluate_video, flip, psnr)
from .sources import Source, find_triplets, read_png, scene_cuts, triplet_source, video_source

#: Default frame-drop factors.
DEFAULT_K = (2, 4, 8)

__all__ = ["DEFAULT_K", "PSNR_CAP", "ALIGN_DB", "BASELINES", "PEERS", "MINTERPOLATE", "FALLBACK_FPS", "STRIP_TILE",
           "STRIP_MIN", "COLOUR_PROPS", "EvaluateError", "Method", "parse_method", "availability",
           "resolve_methods", "colour_args", "to_rgb24", "rgb_array", "psnr", "flip", "Source", "video_source",
           "find_triplets", "triplet_source", "read_png", "clip_from_arrays", "scene_cuts", "build_output",
           "MethodResult", "SourceResult", "evaluate_video", "evaluate_triplets", "Report", "machine_info", "run",
           "means", "format_table", "to_json", "to_markdown", "write_strips", "write_outputs", "draw_len",
           "_VSOutput"]  # _VSOutput: tests wrap a method's output in one


def run(inputs: list[str], *, samples: bool = False, ks: Iterable[int] = DEFAULT_K, methods: list[str] | None = None,
        frames: int | None = None, ssim: bool = True, provider: str = "auto", strips: bool = False,
        command: str = "", log: Callable[[str], None] = lambda s: None, flip: bool = True) -> Report:
    """Run the protocol on ``inputs`` (video files, triplet directories) and, with
    ``samples``, the three sample clips; for every k in ``ks`` (ints >= 2; triplet
    directories always use k = 2) and every method in ``methods`` (specs for
    :func:`parse_method`; None: all that run here). ``frames`` keeps the first N frames of
    each video and the first N triplets of each directory. ``ssim``, ``flip``: compute SSIM
    and ꟻLIP (PSNR always).

    Timing: for VapourSynth methods (vsvfi, dup, blend, MVTools) the wall time of
    requesting, in order and with as many requests in flight as VapourSynth has threads,
    the output frames at the scored and kept positions, each converted to RGB24, from a
    graph with its own decoder; for minterpolate the time spent reading ffmpeg's output
    (ffmpeg runs on the whole stream, pairs excluded from scoring included, and for
    triplets one ffmpeg process per triplet). Scoring is not timed.

    Returns a Report; progress lines go to ``log``. Raises EvaluateError for bad input
    (nothing is evaluated then) and for an unknown or unusable method.
    """
    ks = list(dict.fromkeys(ks))
    bad = [k for k in ks if not isinstance(k, int) or isinstance(k, bool) or k < 2]
    if bad or not ks:
        raise EvaluateError(f"k must be whole numbers >= 2, got {bad[0] if bad else 'none'}")
    if frames is not None and frames < 3:
        raise EvaluateError(f"--frames must be at least 3, got {frames}")
    sources = _sources(inputs, samples, frames)
    score_ssim = _ssim_fn() if ssim else None
    score_flip = _flip_fn() if flip else None
    if strips and importlib.util.find_spec("PIL") is None:
        raise EvaluateError("--strips needs Pillow: pip install 'vsvfi[evaluate]'")
    chosen = resolve_methods(methods, provider, log)
    meta = {"command": command, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "ks": ks, "frames": frames, "ssim": ssim, "flip": flip, "psnr_cap_db": PSNR_CAP, "align_db": ALIGN_DB,
            "minterpolate": MINTERPOLATE, **machine_info(provider)}
    meta["sc_threshold"] = SC_THRESHOLD
    results = []
    for src in sources:
        if src.kind == "triplets":
            t0 = time.perf_counter()
            log(f"{src.name}: {len(src.triplets)} triplets, k=2")
            res = evaluate_triplets(src, chosen, score_ssim, provider, strips, log, score_flip)
            results.append(res)
            _log_result(res, log, time.perf_counter() - t0)
            continue
        clip = src.open()
        log(f"{src.name}: {clip.width}x{clip.height}, {clip.num_frames} frames, {clip.fps} fps; finding scene cuts")
        cuts = scene_cuts(src.open())
        for k in ks:
            t0 = time.perf_counter()
            res = evaluate_video(src, k, chosen, score_ssim, provider, cuts, strips, score_flip)
            results.append(res)
            _log_result(res, log, time.perf_counter() - t0)
    return Report(meta=meta, results=results, methods=[m.label for m in chosen])


def _log_result(res: SourceResult, log, wall: float) -> None:
    parts = []
    for label, m in res.methods.items():
        if m.ok:
            parts.append(f"{label} {m.mean_psnr:.2f} dB"
                         + (f" FLIP {m.mean_flip:.4f}" if m.mean_flip is not None else "") + f" {m.seconds:.1f} s")
        else:
            parts.append(f"{label} {m.status.split(':')[0]}")
    log(f"{res.source} k={res.k}: {len(next(iter(res.methods.values())).psnr) if res.methods else 0} frames scored "
        f"in {wall:.1f} s: " + ", ".join(parts))


def _sources(inputs: list[str], samples: bool, frames: int | None) -> list[Source]:
    """The sample clips (with ``samples``) then ``inputs`` as Sources, names made unique;
    raises EvaluateError for bad input or when there is nothing to evaluate."""
    sources = []
    if samples:
        from .. import assets

        for stem, asset in assets.SAMPLES.items():
            try:
                path = assets.fetch(asset)
            except assets.AssetError as e:
                raise EvaluateError(f"sample {stem}: {str(e).splitlines()[0]}") from None
            sources.append(video_source(str(path), frames, stem))
    for inp in inputs:
        p = Path(inp)
        if p.is_dir():
            sources.append(triplet_source(inp, frames))
        else:
            sources.append(video_source(inp, frames))
    if not sources:
        raise EvaluateError("nothing to evaluate: give video files or triplet directories, or --samples")
    names = [s.name for s in sources]
    for s in sources:  # unique names for tables and strip files
        if names.count(s.name) > 1:
            s.name = f"{s.name} ({s.path})"
    return sources

"""Reports of an evaluation: means over sources, the plain-text table, JSON and Markdown,
labelled image strips, the machine and versions they were made with, and writing the
requested files."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import vapoursynth as vs

from .methods import EvaluateError
from .scoring import MethodResult, SourceResult

core = vs.core

#: Longest side of one tile in an image strip (pixels); larger frames are scaled down.
STRIP_TILE = 480
#: Narrower frames are enlarged by a whole factor (nearest neighbour) to at least this width.
STRIP_MIN = 320


@dataclass
class Report:
    """One run: ``meta`` (command, date, machine, settings), the results per source and
    k, and the method labels in column order."""

    meta: dict
    results: list[SourceResult]
    methods: list[str]


def machine_info(provider: str = "auto") -> dict:
    """Machine and versions for the report: CPU model and count, memory, GPU (nvidia-smi,
    else "none"), and versions of VapourSynth, ONNX Runtime, MVTools, ffmpeg, scikit-image,
    flip-evaluator, numpy and vsvfi (with the git commit when run from a checkout)."""
    from importlib import metadata

    from .. import __version__

    info = {"cpu_count": os.cpu_count(), "cpu": platform.processor() or platform.machine(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    gpu = "none"
    if shutil.which("nvidia-smi"):
        try:
            r = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True, timeout=20)
            gpu = ", ".join(r.stdout.split("\n")).strip(", ") if r.returncode == 0 and r.stdout.strip() else "none"
        except (OSError, subprocess.SubprocessError):
            pass
    info["gpu"] = gpu
    versions = {"vsvfi": __version__, "vapoursynth": f"R{core.core_version.release_major}"}
    try:
        git = subprocess.run(["git", "-C", str(Path(__file__).resolve().parents[2]), "describe", "--always",
                              "--dirty"], capture_output=True, text=True, timeout=10)
        if git.returncode == 0:
            versions["vsvfi"] += f" (git {git.stdout.strip()})"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
        info["onnxruntime_providers"] = onnxruntime.get_available_providers()
    except ImportError:
        pass
    if hasattr(core, "mv"):
        try:
            versions["mvtools"] = metadata.version("vapoursynth-mvtools")
        except metadata.PackageNotFoundError:
            versions["mvtools"] = next((p.name for p in core.plugins() if p.namespace == "mv"), "?")
    exe = shutil.which("ffmpeg")
    if exe:
        try:
            first = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20).stdout.split("\n")[0]
            versions["ffmpeg"] = first.split(" ")[2] if first.startswith("ffmpeg version") else first
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
    for dist in ("scikit-image", "flip-evaluator", "numpy", "pillow"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    info["versions"] = versions
    info["provider"] = provider
    return info


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def means(report: Report) -> dict[tuple[int, str], dict]:
    """(k, method) -> mean over sources of the per-source mean PSNR, SSIM and ꟻLIP
    (sources where the method scored; SSIM/ꟻLIP None unless every such source has it),
    with the number of sources and the pooled synthesized frames per second (all scored
    frames / all seconds)."""
    out = {}
    for k in sorted({r.k for r in report.results}):
        for label in report.methods:
            rs = [r.methods[label] for r in report.results if r.k == k and label in r.methods and r.methods[label].ok]
            if not rs:
                continue
            ssims = [r.mean_ssim for r in rs if r.mean_ssim is not None]
            flips = [r.mean_flip for r in rs if r.mean_flip is not None]
            secs = sum(r.seconds for r in rs)
            out[(k, label)] = {"psnr": float(np.mean([r.mean_psnr for r in rs])),
                               "ssim": float(np.mean(ssims)) if len(ssims) == len(rs) else None,
                               "flip": float(np.mean(flips)) if len(flips) == len(rs) else None,
                               "fps": sum(len(r.psnr) for r in rs) / secs if secs > 0 else None,
                               "sources": len(rs),
                               "of": sum(1 for r in report.results if r.k == k and r.pairs)}
    return out


def format_table(report: Report) -> str:
    """The plain-text table: source x k x method with PSNR, SSIM, ꟻLIP (headed FLIP: the
    table goes to the terminal, kept ASCII; lower is better), synthesized frames/s, frames
    scored and a note, then the means over sources, excluded pairs and notes."""
    rows = [("source", "k", "method", "PSNR dB", "SSIM", "FLIP", "synth f/s", "frames", "note")]
    for r in report.results:
        for label, m in r.methods.items():
            rows.append((r.source, str(r.k), label, _fmt(m.mean_psnr, ".2f"), _fmt(m.mean_ssim, ".4f"),
                         _fmt(m.mean_flip, ".4f"), _fmt(m.fps, ".2f"), str(len(m.psnr)) if m.ok else "-",
                         m.status or r.note))
    mean = means(report)
    for (k, label), v in mean.items():
        rows.append((f"mean over sources ({v['sources']}/{v['of']})", str(k), label, _fmt(v["psnr"], ".2f"),
                     _fmt(v["ssim"], ".4f"), _fmt(v["flip"], ".4f"), _fmt(v["fps"], ".2f"), "", ""))
    ncol = len(rows[0]) - 1  # the note runs on without padding
    widths = [max(len(row[i]) for row in rows) for i in range(ncol)]
    right = set(range(3, ncol)) | {1}
    lines = []
    for i, row in enumerate(rows):
        cells = [c.rjust(widths[j]) if j in right else c.ljust(widths[j]) for j, c in enumerate(row[:ncol])]
        lines.append("  ".join(cells) + (f"  {row[ncol]}" if row[ncol] else ""))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.extend(_excluded_lines(report) or ["excluded pairs: none"])
    return "\n".join(lines) + "\n"


def _excluded_lines(report: Report) -> list[str]:
    lines = []
    for r in report.results:
        if r.excluded:
            items = ", ".join(f"{e['frames'][0]}-{e['frames'][1]} (cut {', '.join(f'{a}/{b}' for a, b in e['cuts'])})"
                              for e in r.excluded)
            lines.append(f"excluded pairs, {r.source} k={r.k}: {items}")
    return lines


def to_json(report: Report) -> dict:
    """The report as JSON-ready data (per-frame values included)."""
    res = []
    for r in report.results:
        ms = {}
        for label, m in r.methods.items():
            ms[label] = {"psnr": m.mean_psnr, "ssim": m.mean_ssim, "flip": m.mean_flip, "synth_fps": m.fps,
                         "seconds": m.seconds, "frames_scored": len(m.psnr) if m.ok else 0,
                         "output_frames": m.output_frames,
                         "kept_psnr_min": m.kept_db, "status": m.status or "ok",
                         "per_frame": {"frames": m.frames, "psnr": m.psnr, "ssim": m.ssim, "flip": m.flip}}
        res.append({"source": r.source, "kind": r.kind, "path": r.path, "k": r.k, "width": r.width,
                    "height": r.height, "frames": r.frames, "kept": r.kept, "pairs_scored": r.pairs,
                    "excluded": r.excluded, "note": r.note, "methods": ms})
    mean = [{"k": k, "method": label, **v} for (k, label), v in means(report).items()]
    return {"meta": report.meta, "methods": report.methods, "results": res, "mean": mean}


def to_markdown(report: Report, strips: dict[str, str] | None = None) -> str:
    """Markdown: how it was made (command, date, machine, versions), one table per k
    (PSNR / SSIM / ꟻLIP per source and the mean), a speed table, excluded pairs, notes and
    links to the image strips (``strips``: source -> path relative to the markdown file)."""
    meta = report.meta
    v = meta["versions"]
    ver = ", ".join(f"{name} {v[key]}" for name, key in (("vsvfi", "vsvfi"), ("VapourSynth", "vapoursynth"),
                    ("ONNX Runtime", "onnxruntime"), ("MVTools", "mvtools"), ("ffmpeg", "ffmpeg"),
                    ("scikit-image", "scikit-image"), ("flip-evaluator", "flip-evaluator"), ("numpy", "numpy"))
                    if key in v)
    out = ["<!-- written by vsvfi evaluate --markdown; regenerate rather than edit -->", "",
           f"Command: `{meta['command']}`", "",
           f"Date: {meta['date']}. Machine: {meta['cpu']}, {meta['cpu_count']} CPU cores"
           + (f", {meta['memory_gib']} GiB RAM" if "memory_gib" in meta else "")
           + f", GPU: {meta['gpu']}; vsvfi provider: {meta['provider']}"
           + (f" (ONNX Runtime providers here: {', '.join(meta.get('onnxruntime_providers', []))})" if meta.get("onnxruntime_providers") else "")
           + ".", "", f"Versions: {ver}.", ""]
    out.append(f"{_metrics_head(meta)} on the synthesized frames only, mean over frames; 'mean' is the mean over "
               f"sources. minterpolate: `{meta['minterpolate']}`; "
               "MVTools: `Super`, `Analyse(isb=True/False)`, `FlowFPS`/`BlockFPS` at default settings.")
    if meta.get("flip"):
        out.extend(["", "ꟻLIP: NVIDIA's perceptual image difference (flip-evaluator), the mean LDR-ꟻLIP error at "
                    "its default 67 pixels per degree; 0 = identical, lower is better. A perceptual check beside "
                    "PSNR, which can reward blur (a blended or averaged frame gains dB while looking worse)."])
    out.append("")
    results = report.results
    mean = means(report)
    for k in sorted({r.k for r in results}):
        rk = [r for r in results if r.k == k]
        out.append(f"### k = {k}")
        out.append("")
        head = ["method"] + [f"{r.source} ({r.width}x{r.height}, {_scored(r)} frames)" for r in rk] + ["mean"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for label in report.methods:
            cells = [label]
            for r in rk:
                m = r.methods.get(label)
                cells.append(_cell(m, meta))
            mv = mean.get((k, label))
            cells.append("-" if mv is None else _scores(mv["psnr"], mv["ssim"], mv["flip"], meta)
                         + ("" if mv["sources"] == mv["of"] else f" ({mv['sources']} of {mv['of']})"))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out.append("### Speed: synthesized frames per second")
    out.append("")
    out.append("Scored frames / wall seconds producing them (decoding, the method and conversion of its output to "
               "RGB24 included; scoring excluded). For minterpolate the time also covers ffmpeg start-up and the "
               "frames of pairs excluded from scoring.")
    out.append("")
    cols = [(r.source, r.k) for r in results]
    out.append("| method | " + " | ".join(f"{s} k={k}" for s, k in cols) + " |")
    out.append("|---|" + "---|" * len(cols))
    for label in report.methods:
        out.append(f"| {label} | " + " | ".join(_fmt(r.methods[label].fps if label in r.methods else None, ".2f")
                                                 for r in results) + " |")
    out.append("")
    exc = _excluded_lines(report)
    out.append("### Excluded pairs (scene cuts)")
    out.append("")
    out.extend([f"- {line.removeprefix('excluded pairs, ')}" for line in exc] or ["- none"])
    out.append("")
    notes = [f"- {r.source} k={r.k}, {label}: {m.status}" for r in results for label, m in r.methods.items()
             if m.status] + [f"- {r.source} k={r.k}: {r.note}" for r in results if r.note]
    if notes:
        out.append("### Notes")
        out.append("")
        out.extend(notes)
        out.append("")
    if strips:
        out.append("### Image strips")
        out.append("")
        for src, rel in strips.items():
            out.append(f"![{src}]({rel})")
            out.append("")
    return "\n".join(out)


def _scored(r: SourceResult) -> str:
    counts = {len(m.psnr) for m in r.methods.values() if m.ok}
    return str(counts.pop()) if len(counts) == 1 else "-"


def _metrics_head(meta: dict) -> str:
    """What the Markdown cells hold, in their order, and which metrics were not computed."""
    on = {"SSIM": bool(meta.get("ssim")), "ꟻLIP": bool(meta.get("flip"))}
    head = " / ".join(["PSNR (dB, RGB24)"] + [name for name, done in on.items() if done])
    off = [name for name, done in on.items() if not done]
    return head + (f" ({' and '.join(off)} not computed)" if off else "")


def _scores(psnr: float, ssim: float | None, flip: float | None, meta: dict) -> str:
    """"PSNR / SSIM / ꟻLIP" for one cell: a metric that was not computed is left out (a
    missing value of a computed one is "-")."""
    parts = [f"{psnr:.2f}"]
    if meta.get("ssim") or ssim is not None:
        parts.append(_fmt(ssim, ".4f"))
    if meta.get("flip") or flip is not None:
        parts.append(_fmt(flip, ".4f"))
    return " / ".join(parts)


def _cell(m: MethodResult | None, meta: dict) -> str:
    if m is None:
        return "-"
    if not m.ok:
        return "misaligned" if m.misaligned else ("failed" if m.errors else "-")
    return _scores(m.mean_psnr, m.mean_ssim, m.mean_flip, meta)


def write_strips(report: Report, folder: Path) -> dict[str, Path]:
    """One PNG per source (for its largest k): the kept pair, the ground truth and each
    method's frame at the middle of the first scored pair, labelled with method and PSNR,
    on a grid of at most 4 columns (frames larger than :data:`STRIP_TILE` pixels are scaled
    down, frames narrower than :data:`STRIP_MIN` enlarged by a whole factor). Returns source -> written path."""
    from PIL import Image, ImageDraw, ImageFont

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    best: dict[str, SourceResult] = {}
    for r in report.results:
        if r.strip and "gt" in r.strip and (r.source not in best or r.k > best[r.source].k):
            best[r.source] = r
    try:
        font = ImageFont.load_default(size=15)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for src, r in best.items():
        s = r.strip
        a, b = s["pair"]
        tiles = [(f"input frame {a}", s["gt"].get(a)), (f"input frame {b}", s["gt"].get(b)),
                 (f"ground truth frame {s['at']}", s["gt"].get(s["at"]))]
        for label in report.methods:
            if label in s.get("out", {}) and r.methods[label].ok:
                arr, db = s["out"][label]
                tiles.append((f"{label}: {db:.2f} dB", arr))
        tiles = [(t, x) for t, x in tiles if x is not None]
        h, w = tiles[0][1].shape[:2]
        # large frames scaled down to STRIP_TILE, small ones enlarged by pixel repetition
        scale = STRIP_TILE / max(w, h) if max(w, h) > STRIP_TILE else float(max(1, -(-STRIP_MIN // w)))
        tw, th = max(1, round(w * scale)), max(1, round(h * scale))
        lines = []
        for text, _ in tiles:
            head, sep, tail = text.rpartition(": ")
            lines.append([text] if not sep or draw_len(font, text) <= tw - 6 else [head + ":", tail])
        bar = 6 + 19 * max(len(x) for x in lines)
        cols = min(4, len(tiles))
        rows = -(-len(tiles) // cols)
        sheet = Image.new("RGB", (cols * tw + (cols + 1) * 4, rows * (th + bar) + (rows + 1) * 4), (32, 32, 32))
        draw = ImageDraw.Draw(sheet)
        for i, ((_, arr), text) in enumerate(zip(tiles, lines)):
            x = 4 + (i % cols) * (tw + 4)
            y = 4 + (i // cols) * (th + bar + 4)
            im = Image.fromarray(arr)
            if scale != 1:
                im = im.resize((tw, th), Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST)
            sheet.paste(im, (x, y + bar))
            for j, line in enumerate(text):
                draw.text((x + 3, y + 3 + 19 * j), line, fill=(240, 240, 240), font=font)
        title = f"{src}, k={r.k}" + (f", triplet {s['name']}" if "name" in s else "")
        path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", src).strip("_") + ".png")
        sheet.save(path, optimize=True)
        written[src] = path
        report.meta.setdefault("strips", {})[src] = {"path": str(path), "title": title, "frame": s["at"], "k": r.k}
    return written


def write_outputs(report: Report, json_path: str | None, markdown_path: str | None, strips_dir: str | None) -> None:
    """Write the requested files (parent folders are created). Raises EvaluateError on
    an OS error."""
    try:
        strips = write_strips(report, Path(strips_dir)) if strips_dir else {}
        if json_path:
            Path(json_path).parent.mkdir(parents=True, exist_ok=True)
            Path(json_path).write_text(json.dumps(to_json(report), indent=1, default=_json_default) + "\n",
                                       encoding="utf-8")
        if markdown_path:
            md = Path(markdown_path)
            md.parent.mkdir(parents=True, exist_ok=True)
            rel = {s: os.path.relpath(p, md.parent) for s, p in strips.items()}
            md.write_text(to_markdown(report, rel), encoding="utf-8")
    except OSError as e:
        raise EvaluateError(f"cannot write output: {e}") from None


def draw_len(font, text: str) -> float:
    """Width in pixels of ``text`` in ``font``."""
    from PIL import Image, ImageDraw

    return ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=font)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)

"""vsvfi evaluate: the frame-dropping protocol, checked against direct numpy computations."""

import json
import subprocess
import sys

import numpy as np
import pytest
import vapoursynth as vs
from PIL import Image
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

import vsvfi
from vsvfi import evaluate as ev

core = vs.core
VSVFI = [sys.executable, "-m", "vsvfi.cli"]


def rgb_frames(clip, matrix="170m") -> list[np.ndarray]:
    """Every frame of a YUV clip as (H, W, 3) uint8 RGB, converted here independently."""
    rgb = core.resize.Bicubic(clip, format=vs.RGB24, matrix_in_s=matrix, range_in_s="limited")
    return [np.dstack([np.asarray(f[p]) for p in range(3)]) for f in rgb.frames()]


def ref_psnr(a, b) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 100.0 if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ref_ssim(a, b) -> float:
    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def ref_flip(ref, test) -> float:
    """Mean LDR-ꟻLIP straight from flip_evaluator on sRGB floats in 0..1."""
    import flip_evaluator

    _, mean, params = flip_evaluator.evaluate(ref.astype(np.float32) / 255, test.astype(np.float32) / 255, "LDR")
    assert params["ppd"] == pytest.approx(67.02, abs=0.01)  # the default viewing conditions
    return float(mean)


def _blur(arr, sigma):
    return np.rint(gaussian_filter(arr.astype(np.float64), sigma=(sigma, sigma, 0))).astype(np.uint8)


def test_flip_identical_zero_and_grows_with_blur(bikes):
    frame = rgb_frames(bikes[10:11], matrix="709")[0]  # 640x272
    assert ev.flip(frame, frame.copy()) == 0.0
    light, strong = ev.flip(frame, _blur(frame, 1.0)), ev.flip(frame, _blur(frame, 3.0))
    assert 0 < light < strong < 1
    assert light == pytest.approx(ref_flip(frame, _blur(frame, 1.0)), abs=1e-6)


def test_missing_flip_evaluator_is_a_clear_error(sample, monkeypatch):
    monkeypatch.setitem(sys.modules, "flip_evaluator", None)  # import fails
    with pytest.raises(ev.EvaluateError, match="pip install flip-evaluator"):
        ev.run([sample("carphone_pristine")], ks=[2], methods=["dup"], frames=5, ssim=False)
    rep = ev.run([sample("carphone_pristine")], ks=[2], methods=["dup"], frames=5, ssim=False, flip=False)
    got = rep.results[0].methods["dup"]
    assert got.ok and got.flip == [] and got.mean_flip is None
    assert ev.to_json(rep)["results"][0]["methods"]["dup"]["flip"] is None
    assert "ꟻLIP not computed" in ev.to_markdown(rep)


def test_flip_in_reports_and_rife_beats_dup(sample):
    rep = ev.run([sample("carphone_pristine")], ks=[2], methods=["rife46", "dup", "blend"], frames=9, ssim=False)
    res = rep.results[0]
    for label in ("rife46", "dup", "blend"):
        m = res.methods[label]
        assert m.ok and len(m.flip) == len(m.psnr) == 4 and all(0 < f < 1 for f in m.flip)
    assert res.methods["dup"].mean_flip > res.methods["rife46"].mean_flip  # dup: visibly worse
    data = ev.to_json(rep)
    assert data["meta"]["flip"] is True
    table, md = ev.format_table(rep), ev.to_markdown(rep)
    assert "FLIP" in table.splitlines()[0]
    assert "PSNR (dB, RGB24) / ꟻLIP (SSIM not computed)" in md
    mean = {x["method"]: x for x in data["mean"]}
    for label, m in res.methods.items():
        j = data["results"][0]["methods"][label]
        assert j["flip"] == pytest.approx(m.mean_flip) and j["per_frame"]["flip"] == m.flip
        assert mean[label]["flip"] == pytest.approx(m.mean_flip)  # one source: the mean is its value
        cell = f"{m.mean_psnr:.2f} / {m.mean_flip:.4f}"
        assert f"| {label} | {cell} | {cell} |" in md  # the source, then the mean over sources
        row = next(line for line in table.splitlines() if line.split()[:3] == ["carphone_pristine", "2", label])
        assert f"{m.mean_flip:.4f}" in row.split()


def test_dup_and_blend_equal_numpy(sample, carphone):
    n_frames = 21
    rep = ev.run([sample("carphone_pristine")], ks=[2, 4], methods=["dup", "blend"], frames=n_frames)
    rgb = rgb_frames(carphone[:n_frames])  # carphone: 176x144, no matrix prop -> BT.601
    for res in rep.results:
        k = res.k
        m = len(range(0, n_frames, k))
        scored = [n for n in range((m - 1) * k) if n % k]
        assert res.excluded == [] and res.pairs == m - 1
        exp_dup = [rgb[n - n % k] for n in scored]
        exp_blend = []
        for n in scored:
            t = (n % k) / k
            mix = (1 - t) * rgb[n - n % k].astype(np.float64) + t * rgb[n - n % k + k]
            exp_blend.append(np.rint(mix).astype(np.uint8))
        for label, expected in (("dup", exp_dup), ("blend", exp_blend)):
            got = res.methods[label]
            assert got.ok and got.frames == scored
            want_psnr = [ref_psnr(e, rgb[n]) for e, n in zip(expected, scored)]
            want_ssim = [ref_ssim(rgb[n], e) for e, n in zip(expected, scored)]
            want_flip = [ref_flip(rgb[n], e) for e, n in zip(expected, scored)]
            np.testing.assert_allclose(got.psnr, want_psnr, rtol=0, atol=1e-9)
            np.testing.assert_allclose(got.ssim, want_ssim, rtol=0, atol=1e-9)
            np.testing.assert_allclose(got.flip, want_flip, rtol=0, atol=1e-6)
            assert got.mean_flip == pytest.approx(np.mean(want_flip), abs=1e-6)
            assert got.mean_psnr == pytest.approx(np.mean(want_psnr), abs=1e-9)
            assert got.kept_db == ev.PSNR_CAP  # exact at the kept positions
    # blend beats dup on real motion
    assert all(r.methods["blend"].mean_psnr > r.methods["dup"].mean_psnr for r in rep.results)


def test_scene_cut_pairs_excluded_and_listed(sample):
    rep = ev.run([sample("bikes")], ks=[2, 4], methods=["dup"], frames=40, ssim=False, flip=False)
    by_k = {r.k: r for r in rep.results}
    assert by_k[2].excluded == [{"frames": [28, 30], "cuts": [[29, 30]]}]
    assert by_k[4].excluded == [{"frames": [28, 32], "cuts": [[29, 30]]}]
    assert 29 not in by_k[2].methods["dup"].frames and 27 in by_k[2].methods["dup"].frames
    assert not {29, 30, 31} & set(by_k[4].methods["dup"].frames)
    assert len(by_k[2].methods["dup"].psnr) == 18  # 19 pairs, one excluded
    text = ev.format_table(rep)
    assert "bikes k=2: 28-30 (cut 29/30)" in text and "bikes k=4: 28-32 (cut 29/30)" in text
    assert ev.scene_cuts(core.bs.VideoSource(sample("bikes"))[:80]) == [29, 75]


def test_peers_aligned_and_better_than_dup(sample):
    rep = ev.run([sample("carphone_pristine")], ks=[2, 4], frames=25, ssim=False, flip=False,
                 methods=["dup", "mv-flowfps", "mv-blockfps", "minterpolate"])
    for res in rep.results:
        m_kept = len(range(0, 25, res.k))
        dup = res.methods["dup"].mean_psnr
        for label in ("mv-flowfps", "mv-blockfps", "minterpolate"):
            got = res.methods[label]
            assert got.ok, got.status
            assert got.kept_db == ev.PSNR_CAP  # kept positions come back bit-exact
            assert got.output_frames >= (m_kept - 1) * res.k + 1
            assert len(got.psnr) == len(res.methods["dup"].psnr)
            assert dup + 0.3 < got.mean_psnr < 60, (label, res.k, got.mean_psnr, dup)
            assert got.fps > 0


def test_misaligned_method_is_reported_with_offset(sample, monkeypatch):
    real = ev.build_output

    def shifted(method, kept, k, colour, provider):
        out = real(method, kept, k, colour, provider)
        return ev._VSOutput(out.rgb[0] + out.rgb)  # one frame late

    monkeypatch.setattr(ev.scoring, "build_output", shifted)  # where the runner looks it up
    rep = ev.run([sample("carphone_pristine")], ks=[2], methods=["blend"], frames=15, ssim=False, flip=False)
    got = rep.results[0].methods["blend"]
    assert not got.ok and got.mean_psnr is None
    assert "offset +1" in got.misaligned and got.status.startswith("misaligned")
    assert "misaligned" in ev.format_table(rep)


def _save(arr, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_triplet_directories(carphone, tmp_path):
    rgb = rgb_frames(carphone[:26])
    vimeo, mb, split = tmp_path / "vimeo", tmp_path / "middlebury", tmp_path / "mb-official"
    for seq, first in (("00001/0001", 0), ("00001/0002", 10)):
        for i in range(3):
            _save(rgb[first + i], vimeo / "sequences" / seq / f"im{i + 1}.png")
    for name, first in (("Walking", 20), ("Dumptruck", 23)):
        _save(rgb[first], mb / name / "frame10.png")
        _save(rgb[first + 1], mb / name / "frame10i11.png")
        _save(rgb[first + 2], mb / name / "frame11.png")
        _save(rgb[first], split / "other-data" / name / "frame10.png")
        _save(rgb[first + 2], split / "other-data" / name / "frame11.png")
        _save(rgb[first + 1], split / "other-gt-interp" / name / "frame10i11.png")
    rep = ev.run([str(vimeo), str(mb), str(split)], ks=[2, 4], methods=["dup", "blend", "rife46"], ssim=True)
    assert [r.kind for r in rep.results] == ["triplets"] * 3 and {r.k for r in rep.results} == {2}
    firsts = {"vimeo": [0, 10], "middlebury": [23, 20], "mb-official": [23, 20]}  # sorted by name
    for res in rep.results:
        starts = firsts[res.source]
        assert res.frames == 2 and res.methods["dup"].frames == sorted(res.methods["dup"].frames)
        for label in ("dup", "blend", "rife46"):
            assert res.methods[label].ok, res.methods[label].status
        want_dup = [ref_psnr(rgb[s], rgb[s + 1]) for s in starts]
        want_blend = [ref_psnr(np.rint((rgb[s].astype(np.float64) + rgb[s + 2]) / 2).astype(np.uint8), rgb[s + 1])
                      for s in starts]
        # rife46 on an RGB24 clip of the outer frames, built without evaluate's PNG reading
        want_rife = []
        for s in starts:
            pair = core.std.Splice([_rgb_clip(rgb[s]), _rgb_clip(rgb[s + 2])])
            mid = vsvfi.Interpolate(pair, ratio=2).get_frame(1)
            want_rife.append(ref_psnr(np.dstack([np.asarray(mid[p]) for p in range(3)]), rgb[s + 1]))
        np.testing.assert_allclose(res.methods["dup"].psnr, want_dup, atol=1e-9)
        np.testing.assert_allclose(res.methods["blend"].psnr, want_blend, atol=1e-9)
        np.testing.assert_allclose(res.methods["rife46"].psnr, want_rife, atol=1e-6)
        assert res.methods["dup"].ssim[0] == pytest.approx(ref_ssim(rgb[starts[0] + 1], rgb[starts[0]]), abs=1e-9)
    names = rep.results[0].methods["dup"].frames
    assert names == ["sequences/00001/0001", "sequences/00001/0002"]


def test_triplets_match_video_path(sample, carphone, tmp_path):
    """A triplet made of video frames 0, 1, 2 scores as output frame 1 of the video at k=2."""
    rgb = rgb_frames(carphone[:3])
    for i in range(3):
        _save(rgb[i], tmp_path / "t" / "x" / f"im{i + 1}.png")
    trip = ev.run([str(tmp_path / "t")], methods=["dup", "blend"], ssim=True).results[0]
    vid = ev.run([sample("carphone_pristine")], ks=[2], frames=3, methods=["dup", "blend"], ssim=True).results[0]
    for label in ("dup", "blend"):
        assert trip.methods[label].psnr == pytest.approx(vid.methods[label].psnr, abs=1e-9)
        assert trip.methods[label].ssim == pytest.approx(vid.methods[label].ssim, abs=1e-9)


def test_rgb_triplets_through_peers(carphone, tmp_path):
    rgb = rgb_frames(carphone[:3])
    for i in range(3):
        _save(rgb[i], tmp_path / "t" / "x" / f"im{i + 1}.png")
    res = ev.run([str(tmp_path / "t")], methods=["dup", "mv-flowfps", "minterpolate"], ssim=False,
                 flip=False).results[0]
    for label in ("mv-flowfps", "minterpolate"):
        got = res.methods[label]
        assert got.ok, got.status
        assert got.kept_db >= ev.ALIGN_DB  # RGB goes through YUV 4:4:4 for the peers
        assert got.mean_psnr > res.methods["dup"].mean_psnr


def _rgb_clip(arr):
    return ev.clip_from_arrays([arr])


def test_parse_method():
    m = ev.parse_method("rife46:scale=0.5:ensemble=1:protect_static=false")
    assert m.kind == "vsvfi" and m.model == "rife46"
    assert dict(m.options) == {"scale": 0.5, "ensemble": 1, "protect_static": False}
    assert ev.parse_method("dup").kind == "dup"
    for bad, msg in (("nope", "unknown method"), ("dup:x=1", "takes no options"), ("rife46:scale", "bad option"),
                     ("rife46:ratio=3", "set by evaluate")):
        with pytest.raises(ev.EvaluateError, match=msg):
            ev.parse_method(bad)


def _fails(args, match, code=None):
    r = subprocess.run([*VSVFI, "evaluate", *args], capture_output=True, text=True)
    assert r.returncode != 0 if code is None else r.returncode == code, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_cli_errors(sample, tmp_path):
    clip = sample("carphone_pristine")
    _fails([clip, "--methods", "dup,nope"], "unknown method 'nope'")
    _fails([str(tmp_path / "missing.mp4")], "input not found")
    _fails([clip, "--k", "1"], "not a whole number >= 2", code=2)
    _fails([clip, "--k", "two"], "not a whole number >= 2", code=2)
    _fails([clip, "--frames", "2"], "--frames must be at least 3")
    _fails([clip, "--methods", "rife46:bogus=1"], "method rife46:bogus=1")
    _fails([clip, "--methods", "rife46:scale"], "bad option")
    _fails([str(tmp_path)], "no triplets in")
    _fails([], "nothing to evaluate")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    _fails([str(junk)], "cannot decode")
    _fails([clip, "--json", str(junk / "q.json")], "cannot create")  # checked before any work


def test_cli_end_to_end(sample, tmp_path):
    out_json, out_md, strips = tmp_path / "q.json", tmp_path / "docs" / "q.md", tmp_path / "docs" / "img"
    r = subprocess.run([*VSVFI, "evaluate", sample("carphone_pristine"), "--frames", "9", "--k", "2", "4",
                        "--methods", "rife46,dup,blend", "--json", str(out_json), "--markdown", str(out_md),
                        "--strips", str(strips)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "carphone_pristine" in r.stdout and "rife46" in r.stdout and "mean over sources" in r.stdout
    data = json.loads(out_json.read_text())
    assert {x["k"] for x in data["results"]} == {2, 4}
    assert data["meta"]["cpu_count"] >= 1 and "vapoursynth" in data["meta"]["versions"]
    res2 = next(x for x in data["results"] if x["k"] == 2)
    assert res2["methods"]["rife46"]["frames_scored"] == 4 and res2["methods"]["rife46"]["synth_fps"] > 0
    assert res2["methods"]["dup"]["flip"] > res2["methods"]["rife46"]["flip"] > 0
    md = out_md.read_text()
    assert "vsvfi evaluate" in md and "--frames 9" in md and "### k = 4" in md and "img/carphone_pristine.png" in md
    rife = res2["methods"]["rife46"]
    assert "PSNR (dB, RGB24) / SSIM / ꟻLIP on" in md
    assert f"| rife46 | {rife['psnr']:.2f} / {rife['ssim']:.4f} / {rife['flip']:.4f} |" in md
    assert (strips / "carphone_pristine.png").is_file()
    with Image.open(strips / "carphone_pristine.png") as im:
        assert im.width > 3 * 176


def test_plain_cli_still_parses(tmp_path):
    r = subprocess.run([*VSVFI, str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o.mp4")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "input file not found" in r.stderr

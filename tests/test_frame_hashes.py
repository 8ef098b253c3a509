"""Output frames are bit-identical to the recorded ones (scripts/frame_hashes.py wrote
tests/data/frame_hashes.json): rife46, rife39 and gmfss on a bikes excerpt at 2x and 5/2,
CPU provider. A refactor must keep them; only a change meant to alter the output records
them again."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import frame_hashes  # noqa: E402


def test_output_frames_match_recorded_hashes():
    want = json.loads(frame_hashes.HASHES.read_text())
    assert set(want) == {f"{m} x{r}" for m in frame_hashes.MODELS for r in frame_hashes.RATIOS}
    got = frame_hashes.render()
    for key, hashes in want.items():
        assert len(got[key]) == len(hashes), key
        diff = [n for n, (a, b) in enumerate(zip(got[key], hashes)) if a != b]
        assert not diff, f"{key}: frames {diff} differ from the recorded output"
    # 8 source frames: 16 output frames at 2x, 20 at 5/2, most of them synthesized.
    assert [len(got[f"rife46 x{r}"]) for r in frame_hashes.RATIOS] == [16, 20]

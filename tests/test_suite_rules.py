"""Rules of the suite itself (tests/conftest.py)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_turns_skips_into_failures(tmp_path):
    (tmp_path / "test_rule.py").write_text(
        "import pytest\n"
        "def test_skips():\n    pytest.skip('no torch here')\n"
        "def test_runs():\n    pass\n")

    def run(flag):
        env = dict(os.environ, VSVFI_REQUIRE_ALL=flag)
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
                               str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    ci, local = run("1"), run("0")
    assert ci.returncode == 1 and "VSVFI_REQUIRE_ALL=1 allows no skip" in ci.stdout and "1 failed, 1 passed" in ci.stdout
    assert local.returncode == 0 and "1 passed, 1 skipped" in local.stdout


def test_ci_run_requires_every_test():
    assert "export VSVFI_REQUIRE_ALL=1" in (ROOT / ".ci" / "run").read_text()

"""The code has no unused imports or variables, undefined names or syntax errors (ruff's F
and E9 rules, configured in pyproject.toml; ruff comes with the test extra)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_no_mistakes():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "workbench",
                           "tests"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr

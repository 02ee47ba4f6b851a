"""The core never imports Qt: every module under workbench/core loads without PySide6,
shiboken6, pyqtgraph or anything from workbench.ui (the CLI and scripted runs rely on it)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import workbench.core

FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "workbench.ui")

SCRIPT = textwrap.dedent("""
    import importlib, json, pkgutil, sys
    import workbench.core as core

    failed, names = {}, ["workbench.core"]
    if sys.argv[1:] != ["--no-walk"]:
        for info in pkgutil.walk_packages(core.__path__, "workbench.core.",
                                          onerror=lambda name: failed.setdefault(name, "walk")):
            names.append(info.name)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    forbidden = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph")
                       or m == "workbench.ui" or m.startswith("workbench.ui."))
    print(json.dumps({"names": names, "failed": failed, "forbidden": forbidden}))
""")


def test_core_imports_no_qt():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, cwd=Path(workbench.core.__file__).parents[2])
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # It really walked the package (sub-packages included), and every module imported.
    assert "workbench.core.config" in result["names"]
    assert "workbench.core.data.sources.csvfile" in result["names"]
    assert "workbench.core.data.dataset" in result["names"]
    assert result["failed"] == {}
    assert result["forbidden"] == [], (
        f"Qt reached the core: {result['forbidden']}; forbidden prefixes: {FORBIDDEN}")


def test_forbidden_check_would_notice_qt():
    # The check itself: a module that imports a forbidden name shows up.
    probe = SCRIPT.replace("import workbench.core as core",
                           "import workbench.core as core\nimport types\n"
                           "sys.modules['pyqtgraph'] = types.ModuleType('pyqtgraph')")
    proc = subprocess.run([sys.executable, "-c", probe, "--no-walk"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["forbidden"] == ["pyqtgraph"]

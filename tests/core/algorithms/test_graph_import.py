"""PyG's import calls torch.jit.script, and torch warns about it, as a DeprecationWarning in
some releases and as a FutureWarning (shown by default) in others: the graph algorithm's
import of PyG keeps that warning, whatever its category, out of the user's log, and only
that one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import pytest

from workbench.core.algorithms.graph import import_quietly

MESSAGE = "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`."


@pytest.fixture
def noisy_module(tmp_path, monkeypatch):
    """A module whose import warns as torch does when PyG's import scripts its classes."""
    def make(name: str, category: str, message: str = MESSAGE) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(f"""
            import warnings
            warnings.warn({message!r}, {category})
            warnings.warn("something else", {category})
        """))
        return name
    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for name in [m for m in sys.modules if m.startswith("noisy_")]:
        del sys.modules[name]


@pytest.mark.parametrize("category", ["FutureWarning", "DeprecationWarning", "UserWarning"])
def test_the_torchscript_warning_is_left_out_whatever_its_category(noisy_module, category):
    name = noisy_module(f"noisy_{category.lower()}", category)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import_quietly(name)
    assert [str(w.message) for w in caught] == ["something else"]


def test_python_3_14s_wording_too(noisy_module):
    name = noisy_module("noisy_314", "DeprecationWarning", "`torch.jit.script` is not "
                        "supported in Python 3.14+ and may break. Please switch to ...")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import_quietly(name)
    assert [str(w.message) for w in caught] == ["something else"]


def test_a_graph_layer_imports_without_a_word():
    pytest.importorskip("torch_geometric")
    code = ("from workbench.core.algorithms.graph import _pyg; _pyg('GATConv'); "
            "print('ok')")
    run = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    assert "torch.jit" not in run.stderr, run.stderr

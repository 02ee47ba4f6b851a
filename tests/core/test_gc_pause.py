import gc

import pytest

from workbench.core.config import DataConfig
from workbench.core.data import load_pairs
from workbench.core.gc_pause import collector_paused


@pytest.fixture
def restore_gc():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("enabled", [True, False])
def test_paused_inside_and_as_before_after(restore_gc, enabled):
    (gc.enable if enabled else gc.disable)()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled() is enabled


def test_an_error_inside_still_restores(restore_gc):
    gc.enable()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("bad row")
    assert gc.isenabled()


@pytest.mark.parametrize("enabled", [True, False])
def test_loading_leaves_the_collector_as_it_found_it(restore_gc, folder, enabled):
    (gc.enable if enabled else gc.disable)()
    seen = []
    load_pairs(DataConfig(source=str(folder)), 16,
               progress=lambda *_: seen.append(gc.isenabled()))
    assert seen and not any(seen)  # paused while loading
    assert gc.isenabled() is enabled

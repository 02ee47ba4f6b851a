"""Cyclic garbage holding Qt objects is freed on the GUI thread, not on a training thread
that happens to allocate (the cause of a freeze: see workbench/ui/gui_gc.py)."""

import gc
import threading
import weakref

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject

from workbench.ui.gui_gc import GuiThreadCollector, collect_on_gui_thread, due_generation


class Cyclic(QObject):
    """A Qt object kept alive only by a reference cycle through itself."""

    def __init__(self):
        super().__init__()
        self.me = self


_watches: list = []


def make_garbage(freed_on: list) -> None:
    """A Qt object unreachable at once, freed only by the cyclic collector; ``freed_on``
    gets the thread that freed it (a weak reference's callback runs where the object is
    freed, as the Qt destructor does)."""
    _watches.append(weakref.ref(Cyclic(), lambda _: freed_on.append(threading.get_ident())))


def allocate_on_another_thread() -> None:
    """What a training thread does: allocate enough container objects to cross every
    generation's threshold several times."""
    def churn():
        keep = []
        for i in range(200_000):
            keep.append([i])
            if len(keep) > 1000:
                keep.clear()
    t = threading.Thread(target=churn)
    t.start()
    t.join()


@pytest.mark.parametrize("counts, thresholds, expected", [
    ((10, 0, 0), (700, 10, 10), -1),
    ((701, 0, 0), (700, 10, 10), 0),
    ((701, 11, 0), (700, 10, 10), 1),
    ((701, 11, 11), (700, 10, 10), 2),
    ((10, 11, 11), (700, 10, 10), -1),  # an older generation waits for the younger
    ((701, 5, 11), (700, 10, 10), 0),
])
def test_due_generation_follows_pythons_rule(counts, thresholds, expected):
    assert due_generation(counts, thresholds) == expected


def test_without_the_collector_another_thread_frees_qt_objects(gui_thread_collector):
    """The hazard itself, so the test below can fail: with automatic collection on, the
    allocating thread runs the collection that destroys the Qt object."""
    gui_thread_collector.stop()
    assert gc.isenabled()
    freed_on: list = []
    make_garbage(freed_on)
    allocate_on_another_thread()
    assert freed_on and freed_on[0] != threading.get_ident()


def test_with_the_collector_the_gui_thread_frees_them(gui_thread_collector, qtbot):
    assert gui_thread_collector.active and not gc.isenabled()
    # An earlier test's widgets, deleted later, would be freed while this test waits: the
    # allocation count (allocations less deallocations) then falls back under the threshold
    # and no collection is ever due. Free them first.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    freed_on: list = []
    make_garbage(freed_on)
    allocate_on_another_thread()
    assert freed_on == []  # the other thread's allocations collected nothing
    young = [[i] for i in range(2000)]  # past the youngest generation's threshold
    qtbot.waitUntil(lambda: bool(freed_on), timeout=5000)  # the GUI thread's timer did
    del young
    assert freed_on == [threading.get_ident()]


def test_stop_gives_collection_back_and_frees_what_is_left(qapp):
    gc.enable()
    collector = GuiThreadCollector(parent=qapp)
    collector.start()
    assert not gc.isenabled()
    freed_on: list = []
    make_garbage(freed_on)
    collector.stop()
    assert gc.isenabled() and freed_on == [threading.get_ident()]
    collector.deleteLater()


def test_the_application_collector_is_one_per_application(qapp):
    first = collect_on_gui_thread(qapp)
    try:
        assert collect_on_gui_thread(qapp) is first and first.active
    finally:
        first.stop()
        first.deleteLater()

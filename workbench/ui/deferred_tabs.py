"""Tab pages built when first needed, so the window paints before its hidden tabs exist.

Building every view of the main window (a dozen pyqtgraph plots) before the first paint kept
the user looking at nothing for a third of the start-up. A deferred page is an empty holder
in the tab bar until its view is built: when its tab is shown, when code asks for the view,
or when :meth:`DeferredTabs.build_all` runs (the window calls it right after its first
paint, so every view exists before a run can send it anything).
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget


_NAME = "deferred_tab"  # the Qt property naming a holder's page


class DeferredTabs:
    """Pages of ``tabs`` whose widget ``factory()`` makes on first need."""

    def __init__(self, tabs: QTabWidget):
        self.tabs = tabs
        self._holders: dict[str, QWidget] = {}
        self._factories: dict[str, Callable[[], QWidget]] = {}
        self._built: dict[str, QWidget] = {}
        tabs.currentChanged.connect(self._on_current_changed)

    def add(self, name: str, title: str, factory: Callable[[], QWidget]) -> None:
        holder = QWidget()
        holder.setProperty(_NAME, name)
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        self._holders[name] = holder
        self._factories[name] = factory
        self.tabs.addTab(holder, title)

    def get(self, name: str) -> QWidget:
        """The page's widget, built now if it was not yet."""
        if name not in self._built:
            widget = self._factories.pop(name)()
            self._built[name] = widget
            self._holders[name].layout().addWidget(widget)
        return self._built[name]

    def built(self, name: str) -> QWidget | None:
        """The page's widget if it exists, without building it."""
        return self._built.get(name)

    def page(self, name: str) -> QWidget:
        """What the tab widget holds for ``name`` (for ``setCurrentWidget``)."""
        return self._holders[name]

    def build_all(self) -> None:
        for name in list(self._factories):
            self.get(name)

    def _on_current_changed(self, index: int) -> None:
        name = self.tabs.widget(index).property(_NAME) if index >= 0 else None
        if name in self._factories:
            self.get(name)

"""The desktop application: PySide6 + pyqtgraph views over :mod:`workbench.core` objects.

Only this package imports Qt. Nothing here trains or loads data itself: it starts core work
on worker threads and shows the numbers that come back.
"""

"""The left-hand panels (data, model, presets, runs): each a view of the shared
:class:`~workbench.ui.session.Session`, editing it through its methods and following its
signals, so no panel talks to another."""

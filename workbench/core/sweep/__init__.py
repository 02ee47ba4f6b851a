"""Hyperparameter search (sweeps) with Optuna: a search space from the config's parameter
metadata (:mod:`.space`), studies in a real database (:mod:`.study`), trials as ordinary
runs (:mod:`.trial`), run in this process or in worker processes (:mod:`.runner`)."""

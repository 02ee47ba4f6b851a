"""Run folders: what a training run leaves behind, and reading them back.

::

    <run>/config.toml        the resolved config (a preset that reproduces the run)
    <run>/run.json           summary: status, algorithm, fusion, data, duration, and how the
                             handed-over model scored (validation, test, chance, warnings)
    <run>/metrics.jsonl      one line per epoch: train losses, validation losses and metrics
    <run>/steps.jsonl        one line per step: every loss term
    <run>/checkpoints/last.pt (best.pt: the best epoch's, with training.keep_best)
    <run>/snapshots/embeddings-e0003.npz, attention-e0003.npz, generated-e0003.npz

- :mod:`.writer`: :class:`~.writer.RunWriter`, the Trainer callback that writes a folder.
- :mod:`.store`: list, read, delete and copy run folders (the Runs tab, ``workbench runs``).
- :mod:`.continuation`: train a run further from its checkpoint.
- :mod:`.snapshot_files`: the snapshots and logged events read back as the Trainer's events.
- :mod:`.export`: embeddings, metrics and TensorBoard logs written out of a run.
"""

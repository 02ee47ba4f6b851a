"""Multimodal Workbench: learn and compare multimodal (text + image) methods."""

__version__ = "0.1.0"

"""Encoders (text tokens, image patches, feature vectors), decoders and small heads."""

"""The encoder service: images in, L2-normalised vectors (and breed predictions) out."""

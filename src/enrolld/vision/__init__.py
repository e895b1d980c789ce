"""Image bytes to faces: decode, detect, align, quality gate, embed."""

"""Embeddings as the FAISS-based metrics take them. Pure functions."""

from __future__ import annotations

import numpy as np


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Contiguous float32 copy of `x` with every row scaled to unit length (an all-zero row stays zero)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

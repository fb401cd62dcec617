"""Embeddings as the FAISS-based metrics take them, and the one distance type every metric shares. Pure functions."""

from __future__ import annotations

from typing import Literal

import numpy as np

# "l2": Euclidean distance; "cosine": 1 - cosine similarity (the rows compared as unit vectors).
Metric = Literal["l2", "cosine"]
METRICS: tuple[str, ...] = ("l2", "cosine")


def check_metric(metric: str, key: str = "metric") -> str:
    """`metric` if it is one of `METRICS`, else a ValueError naming `key`."""
    if metric not in METRICS:
        raise ValueError(f"{key} must be one of {METRICS} (got {metric!r})")
    return metric


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Contiguous float32 copy of `x` with every row scaled to unit length (an all-zero row stays zero)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def prepared(x: np.ndarray, metric: str) -> np.ndarray:
    """The rows as `metric` compares them: unit rows for cosine, contiguous float32 for l2."""
    return unit_rows(x) if check_metric(metric) == "cosine" else np.ascontiguousarray(x, dtype=np.float32)

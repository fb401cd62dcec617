"""What a protocol scores: embeddings and species indices per part of the data."""

from __future__ import annotations

import numpy as np

# split name (train: the gallery; val / test: known-species queries; unknown_val / unknown_test: species withheld
# from training) -> (embeddings (n, d), species indices (n,))
Parts = dict[str, tuple[np.ndarray, np.ndarray]]


def known_images(parts: Parts, stage: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Every labelled image of the known species at hand: the gallery and the known queries of `stage`."""
    known = [parts[p] for p in ("train", stage) if p in parts]
    if not known:
        return None
    return np.concatenate([e for e, _ in known]), np.concatenate([y for _, y in known])

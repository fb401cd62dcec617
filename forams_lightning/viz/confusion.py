"""Normalised confusion matrix as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_confusion_png(matrix: np.ndarray, species: list[str], path: str | Path) -> None:
    """Rows: true species (normalised to 1); columns: predicted species. Written atomically (temp file + rename)."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers and CI
    import matplotlib.pyplot as plt

    n = len(species)
    size = max(4.0, 0.28 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(n), species, rotation=90, fontsize=7)
    ax.set_yticks(range(n), species, fontsize=7)
    ax.set_xlabel("predicted species")
    ax.set_ylabel("true species")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true species' queries")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)

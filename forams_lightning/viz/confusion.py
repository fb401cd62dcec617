"""Normalised confusion matrix and per-species precision/recall/F1 as PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forams_lightning.viz.figures import pyplot, save_figure


def save_confusion_png(matrix: np.ndarray, species: list[str], path: str | Path) -> Path:
    """Rows: true species (normalised to 1); columns: predicted species."""
    plt = pyplot()
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
    return save_figure(fig, path)


def save_per_species_png(rows: list[dict], path: str | Path) -> Path:
    """Grouped horizontal bars of precision, recall and F1 per species (rows of `per_species_table`), worst F1 on
    top, support in the label."""
    plt = pyplot()
    rows = sorted(rows, key=lambda r: r["f1"], reverse=True)
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.3 * len(rows) + 1.2)))
    for offset, key in zip((-0.27, 0.0, 0.27), ("precision", "recall", "f1")):
        ax.barh(y + offset, [r[key] for r in rows], height=0.27, label=key)
    ax.set_yticks(y, [f"{r['species']} (n={r['support']})" for r in rows], fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("score on the test queries")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)

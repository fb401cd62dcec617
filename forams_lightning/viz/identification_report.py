"""The closed-set test report of a run folder: per-species table and confusion matrix (CSV and PNG), and the most
confidently misidentified queries with their nearest references."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.metrics.classification import normalised_confusion, per_species_table
from forams_lightning.metrics.knn import Identification
from forams_lightning.viz.confusion import save_confusion_png, save_per_species_png
from forams_lightning.viz.neighbours import save_neighbour_grid


def write_identification_report(folder: Path, y_true, y_pred, species: list[str]) -> list[Path]:
    """`test_per_species.csv` / `.png` and `test_confusion_matrix.csv` / `.png` in `folder`.

    Args:
        folder: where the files go.
        y_true: the queries' species.
        y_pred: those voted.
        species: the name of every species index.
    """
    rows = per_species_table(y_true, y_pred, species)
    atomic_write_csv(folder / "test_per_species.csv", list(rows[0]), [list(r.values()) for r in rows])
    matrix = normalised_confusion(y_true, y_pred, len(species))
    atomic_write_csv(folder / "test_confusion_matrix.csv", ["true \\ predicted", *species],
                     [[name, *(f"{v:.4f}" for v in row)] for name, row in zip(species, matrix)])
    return [save_per_species_png(rows, folder / "test_per_species.png"),
            save_confusion_png(matrix, species, folder / "test_confusion_matrix.png")]


def save_worst_queries(path: Path, found: Identification, y_true: np.ndarray, queries: list[str], *,
                       gallery: list[str], species: list[str], count: int,
                       exif_transpose: bool = True) -> Path | None:
    """The `count` misidentified queries with the highest vote share for the wrong species, each beside its
    nearest references (`queries`, `gallery`: their files); None where none was misidentified.

    Args:
        path: the PNG written.
        found: the queries' identification.
        y_true: their species.
        queries: their files.
        gallery: the gallery's files.
        species: the name of every species index.
        count: queries shown.
        exif_transpose: images turned as their EXIF orientation says.
    """
    wrong = np.flatnonzero(found.prediction != y_true)
    if not count or not len(wrong):
        return None
    wrong = wrong[np.argsort(-found.vote_share[wrong], kind="stable")][:count]
    rows = [{"path": queries[q],
             "title": f"{species[y_true[q]]}\n-> {species[found.prediction[q]]} ({found.vote_share[q]:.0%})",
             "neighbours": [{"path": gallery[g], "title": f"{species[lab]}\nd={d:.3f}", "match": lab == y_true[q]}
                            for g, lab, d in zip(found.ids[q], found.labels[q], found.distances[q])]}
            for q in wrong]
    return save_neighbour_grid(rows, path, exif_transpose)

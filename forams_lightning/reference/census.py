"""The census of identified samples: per sample and species, the count, the proportion with its 95% interval, and
the proportion adjusted for the library's own confusion (`metrics.census`); the novel specimens as rows of their own,
one per candidate group."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.metrics.census import (
    CONFUSION_PRIOR,
    adjusted_interval,
    adjusted_proportions,
    confusion_rates,
    wilson_interval,
)

HEADER = ["sample", "kind", "name", "count", "proportion", "low_95", "high_95", "adjusted_proportion",
          "adjusted_low_95", "adjusted_high_95"]


def square_confusion(confusion: np.ndarray | None, n_species: int) -> np.ndarray | None:
    """The library's confusion counts padded to its current species (species added since have no held-out images:
    their identifications are taken as they are)."""
    if confusion is None:
        return None
    padded = np.zeros((n_species, n_species), np.int64)
    m = min(len(confusion), n_species)
    padded[:m, :m] = confusion[:m, :m]
    return padded


def sample_census(prediction: np.ndarray, novel: np.ndarray, groups: Sequence[str], species: list[str],
                  confusion: np.ndarray | None, seed: int = 0) -> list[list]:
    """Rows (HEADER without the sample) of one sample: `prediction` the species index of each specimen, `novel` its
    flag, `groups` its candidate group name ("" where not grouped). Proportions are of every specimen; the
    adjustment redistributes the known species' share among them (the novel rows stay as counted)."""
    n, known = len(prediction), ~np.asarray(novel, bool)
    counts = np.bincount(prediction[known], minlength=len(species))
    low, high = wilson_interval(counts, n)
    adjusted, a_low, a_high = _adjusted(counts, confusion, seed)
    scale = known.sum() / n if n else 0.0
    rows = [["species", name, int(c), c / n, lo, hi, adj * scale, alo * scale, ahi * scale]
            for name, c, lo, hi, adj, alo, ahi in zip(species, counts, low, high, adjusted, a_low, a_high)
            if c or adj * scale >= 0.0005]
    names, sizes = np.unique([g or "ungrouped" for g, flag in zip(groups, novel) if flag], return_counts=True)
    n_low, n_high = wilson_interval(sizes, n)
    rows += [["novel group", name, int(c), c / n, lo, hi, c / n, lo, hi]
             for name, c, lo, hi in sorted(zip(names, sizes, n_low, n_high), key=lambda r: (-r[1], _order(r[0])))]
    return [[kind, name, count, *(round(float(v), 4) for v in values)] for kind, name, count, *values in rows]


def _adjusted(counts: np.ndarray, confusion: np.ndarray | None, seed: int):
    """Adjusted shares of the known specimens and their interval; the raw shares with a Wilson interval where the
    library has no confusion counts."""
    total = counts.sum()
    if confusion is None or total == 0:
        low, high = wilson_interval(counts, int(total))
        return (counts / total if total else counts * 0.0), low, high
    low, high = adjusted_interval(counts, confusion, seed=seed)
    return adjusted_proportions(counts, confusion_rates(confusion, CONFUSION_PRIOR)), low, high


def _order(name: str) -> tuple:
    """G2 before G10; "ungrouped" last."""
    return (0, int(name[1:])) if name[:1] == "G" and name[1:].isdigit() else (1, name)


def census(samples: Sequence[str], prediction: np.ndarray, novel: np.ndarray, groups: Sequence[str],
           species: list[str], confusion: np.ndarray | None, seed: int = 0) -> list[list]:
    """Rows of every sample (HEADER), samples in sorted order."""
    samples = np.asarray(samples)
    rows = []
    for sample in sorted(set(samples.tolist())):
        mine = np.flatnonzero(samples == sample)
        rows += [[sample, *row] for row in sample_census(prediction[mine], novel[mine], [groups[i] for i in mine],
                                                       species, square_confusion(confusion, len(species)), seed)]
    return rows


def write_census(folder: Path, rows: list[list]) -> list[Path]:
    """census.csv and census.png in `folder`."""
    from forams_lightning.viz.census import save_census_png

    atomic_write_csv(folder / "census.csv", HEADER, rows)
    return [folder / "census.csv", save_census_png(rows, folder / "census.png")]

"""The census of identified samples, long form: per sample and species, the count, the raw proportion with its 95%
sampling interval, and the share of the whole sample once the library's confusion and flags are undone
(`metrics.census`); a row for the share no known species explains, the candidate groups of the flagged specimens as
rows of counted specimens, and the files that could not be read."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np

from forams_lightning.metrics.census import census_shares, wilson_interval

log = logging.getLogger(__name__)

HEADER = ["sample", "kind", "name", "count", "proportion", "low_95", "high_95", "adjusted_proportion",
          "adjusted_low_95", "adjusted_high_95"]
UNEXPLAINED = "not explained by a known species"
SHOWN = 0.0005  # a species row is written where it was counted or its upper bound rounds above 0 (not "absent")
PROGRESS_SECONDS = 10


def padded_confusion(confusion: np.ndarray | None, flagged: np.ndarray | None,
                     n_species: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The library's confusion and flag counts padded to its current species (a species added since has no
    held-out images: its row draws on the pooled rates alone)."""
    if confusion is None:
        return None, None
    square, flags = np.zeros((n_species, n_species), np.int64), np.zeros(n_species, np.int64)
    m = min(len(confusion), n_species)
    square[:m, :m] = confusion[:m, :m]
    if flagged is not None:
        flags[:m] = flagged[:m]
    return square, flags


def sample_census(prediction: np.ndarray, novel: np.ndarray, groups: Sequence[str], species: list[str], *,
                  confusion: np.ndarray | None, confusion_flagged: np.ndarray | None = None, unreadable: int = 0,
                  seed: int = 0) -> list[list]:
    """Rows (HEADER without the sample) of one sample. Every proportion is of the specimens identified; without
    confusion counts the adjusted columns repeat the raw ones (the flagged specimens then are the unexplained share).

    Args:
        prediction: the species index of each specimen.
        novel: each specimen's novelty flag.
        groups: each specimen's candidate group ("" where not grouped).
        species: the library's species names.
        confusion: held-out images of each species (rows) identified as each (columns), or None.
        confusion_flagged: held-out images of each species flagged novel.
        unreadable: the files of the sample that could not be read.
        seed: of the posterior's sampler.
    """
    prediction, novel = np.asarray(prediction, int), np.asarray(novel, bool)
    n, n_flagged = len(prediction), int(novel.sum())
    counts = np.bincount(prediction[~novel], minlength=len(species))
    low, high = wilson_interval(np.append(counts, n_flagged), n)
    adjusted, a_low, a_high = _adjusted(counts, n_flagged, confusion, confusion_flagged, seed=seed)
    raw = np.append(counts, n_flagged) / n if n else np.zeros(len(species) + 1)
    rows = [["species", name, counts[i], raw[i], low[i], high[i], adjusted[i], a_low[i], a_high[i]]
            for i, name in enumerate(species) if counts[i] or a_high[i] >= SHOWN]
    if n:
        rows.append(["unexplained", UNEXPLAINED, n_flagged, raw[-1], low[-1], high[-1], adjusted[-1], a_low[-1],
                     a_high[-1]])
    rows += _group_rows(novel, groups, n)
    rows = [[kind, name, int(count), *(round(float(v), 4) if v != "" else "" for v in values)]
            for kind, name, count, *values in rows]
    return rows + ([["unreadable", "files that could not be read", int(unreadable)] + [""] * 6] if unreadable else [])


def _adjusted(counts: np.ndarray, n_flagged: int, confusion: np.ndarray | None, confusion_flagged: np.ndarray | None,
              *, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjusted share of every species and of the unexplained class (posterior medians), and their 95% credible
    intervals."""
    n = int(counts.sum()) + n_flagged
    if confusion is None or n == 0:
        observed = np.append(counts, n_flagged)
        low, high = wilson_interval(observed, n)
        return (observed / n if n else observed * 0.0), low, high
    posterior = census_shares(counts, n_flagged, confusion, confusion_flagged, seed=seed)
    return (posterior.median, *posterior.interval())


def _group_rows(novel: np.ndarray, groups: Sequence[str], n: int) -> list[list]:
    """The candidate groups of the flagged specimens, largest first: counted specimens, no adjusted share."""
    names, sizes = np.unique([g or "ungrouped" for g, flag in zip(groups, novel) if flag], return_counts=True)
    low, high = wilson_interval(sizes, n)
    rows = sorted(zip(names, sizes, low, high), key=lambda r: (-r[1], _order(r[0])))
    return [["novel group", name, c, c / n, lo, hi, "", "", ""] for name, c, lo, hi in rows]


def _order(name: str) -> tuple:
    """G2 before G10; "ungrouped" last."""
    return (0, int(name[1:])) if name[:1] == "G" and name[1:].isdigit() else (1, name)


def census(samples: Sequence[str], prediction: np.ndarray, novel: np.ndarray, groups: Sequence[str], *,
           species: list[str], confusion: np.ndarray | None, confusion_flagged: np.ndarray | None = None,
           unreadable: Mapping[str, int] | None = None, order: Sequence[str] | None = None,
           seed: int = 0) -> list[list]:
    """Rows of every sample (HEADER); a sample whose every file was unreadable has its `unreadable` row alone.
    `IdentifiedSample.census` calls it with a sample's values.

    Args:
        samples: the sample of each identified specimen.
        prediction: the species index of each.
        novel: each one's novelty flag.
        groups: each one's candidate group ("" where not grouped).
        species: the library's species names.
        confusion: held-out images of each species (rows) identified as each (columns), or None.
        confusion_flagged: held-out images of each species flagged novel.
        unreadable: the unreadable files of each sample.
        order: the samples in the order to write them (default: sorted by name).
        seed: of the posterior's sampler.
    """
    of, unreadable = np.asarray(samples, dtype=object), dict(unreadable or {})
    names = list(order) if order is not None else sorted(set(of.tolist()) | set(unreadable))
    confusion, confusion_flagged = padded_confusion(confusion, confusion_flagged, len(species))
    rows, start, said = [], time.perf_counter(), time.perf_counter()
    for done, sample in enumerate(names):
        mine = np.flatnonzero(of == sample)
        rows += [[sample, *row] for row in sample_census(
            prediction[mine], novel[mine], [groups[int(i)] for i in mine], species, confusion=confusion,
            confusion_flagged=confusion_flagged, unreadable=unreadable.get(sample, 0), seed=seed)]
        if time.perf_counter() - said > PROGRESS_SECONDS:
            said = time.perf_counter()
            left = (said - start) / (done + 1) * (len(names) - done - 1)
            log.info("census: %d of %d samples (~%.0f s left)", done + 1, len(names), left)
    return rows

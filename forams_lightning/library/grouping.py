"""Candidate new species: the specimens no known species explains, grouped by the library's own clustering cut.

The cut is the open-set evaluation's (`evaluation.species_count`): calibrated when the library is built, on labelled
species that the embedding was not fitted on (the whitening's cross-fitted calibration sets of an `open_set` run),
so that it splits unseen species as it splits those; stored in the manifest as `grouping`. Pure of files."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from forams_lightning.evaluation.calibration import CalibrationSets
from forams_lightning.evaluation.species_count import SpeciesCount, cut
from forams_lightning.metrics.clustering import LINKAGES
from forams_lightning.metrics.knn import knn_search
from forams_lightning.metrics.reranking import Reranking
from forams_lightning.metrics.vectors import prepared

MEDOID_CANDIDATES = 200  # a group larger than this looks for its medoid among every n-th member (memory stays flat)
MAX_TREE = 3000  # specimens the hierarchical tree is built on (about 36 MB of distances); the rest join its groups


@dataclass(frozen=True)
class Grouping:
    """The clustering cut of a library. `share`: count the groups on draws of that share of the specimens, then cut
    the whole set into that many (`SpeciesCount.match_sizes`); None: cut the whole set at `threshold`.
    `expansion_k`/`expansion_alpha`: the specimens expanded with their nearest ones first (`Reranking`), as the
    calibration sets were. `source`: what the cut was calibrated on."""

    threshold: float
    linkage: str = "average"
    share: float | None = None
    expansion_k: int = 0
    expansion_alpha: float = 3.0
    source: str = ""

    def __post_init__(self) -> None:
        if self.linkage not in LINKAGES:
            raise ValueError(f"grouping.linkage must be one of {LINKAGES} (got {self.linkage!r})")
        if self.share is not None and not 0 < self.share <= 1:
            raise ValueError(f"grouping.share must lie in (0, 1] (got {self.share!r})")

    def reranking(self) -> Reranking:
        return Reranking(expansion_k=self.expansion_k, expansion_alpha=self.expansion_alpha, csls_k=0)

    def groups(self, embeddings: np.ndarray, metric: str = "cosine", seed: int = 0) -> np.ndarray:
        """Group of each embedding, numbered from 0 by decreasing size (ties: first member first). Beyond
        `MAX_TREE` specimens the tree is built on a seeded draw of that many, and every other specimen joins the
        group of its nearest drawn one (the tree's memory grows with the square of its size)."""
        n = len(embeddings)
        if n < 2:
            return np.zeros(n, np.int64)
        x = self.reranking().expand(np.asarray(embeddings, np.float32)) if n > self.expansion_k else embeddings
        drawn = np.sort(np.random.default_rng(seed).permutation(n)[:MAX_TREE]) if n > MAX_TREE else np.arange(n)
        ids = np.empty(n, np.int64)
        ids[drawn] = cut(x[drawn], self.threshold, self.share, metric, linkage=self.linkage, seed=seed)
        if len(drawn) < n:
            rest = np.setdiff1d(np.arange(n), drawn)
            ids[rest] = ids[drawn][knn_search(x[drawn], x[rest], 1, metric)[1][:, 0]]
        return by_size(ids)

    def state(self) -> dict:
        return asdict(self)


def by_size(ids: np.ndarray) -> np.ndarray:
    """Cluster ids renumbered 0, 1, ... by decreasing size; ties by first appearance."""
    values, first, counts = np.unique(ids, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    rank = np.empty(len(values), np.int64)
    rank[order] = np.arange(len(values))
    return rank[np.searchsorted(values, ids)]


def calibrate_grouping(sets: list[tuple[np.ndarray, np.ndarray]], metric: str, species_count: SpeciesCount,
                       reranking: Reranking, *, share: float | None, source: str, seed: int = 0) -> Grouping:
    """The cut that splits each labelled set of `sets` into its number of species (their mean), the sets expanded
    as the specimens will be. `share`: where the sets hold only that share of their species' images (cross-fitted
    training species) and `species_count.match_sizes`; else the whole set is cut.

    Args:
        sets: labelled calibration sets, (embeddings, labels) each.
        metric: ``cosine`` or ``l2``.
        species_count: the open-set recipe's species-count settings (linkage, draws).
        reranking: the expansion the specimens will get.
        share: the share of its species' images each set holds, or None.
        source: what the cut was calibrated on, in words.
        seed: of the draws.
    """
    expanded = [(reranking.expand(x), y) for x, y in sets]
    threshold = species_count.threshold(expanded, sum(len(x) for x, _ in sets), metric, seed)
    return Grouping(threshold=threshold, linkage=species_count.linkage,
                    share=share if species_count.match_sizes else None, expansion_k=reranking.expansion_k,
                    expansion_alpha=reranking.expansion_alpha, source=source)


def calibration_sets(calibration: CalibrationSets | None,
                     held_out: tuple[np.ndarray, np.ndarray] | None) -> tuple[list, float | None, str]:
    """(sets, share, source): the cross-fitted calibration sets where the run kept them, else the held-out images of
    the known species (the embedding was fitted on their species: they are tighter than new ones, and the cut
    over-splits), else none."""
    if calibration and calibration.sets:
        return list(calibration.sets), calibration.share, "the whitening's cross-fitted training species"
    if held_out is not None and len(np.unique(held_out[1])) > 1:
        return [held_out], None, "held-out images of the known species (the embedding was fitted on them)"
    return [], None, ""


@dataclass(frozen=True)
class GroupSummary:
    """A group of specimens: its members (indices into the grouped specimens), medoid first, and the known species
    nearest its medoid."""

    members: np.ndarray
    nearest_species: int
    nearest_distance: float


def summarise_groups(embeddings: np.ndarray, groups: np.ndarray, references: np.ndarray, labels: np.ndarray,
                     *, metric: str) -> list[GroupSummary]:
    """One summary per group id 0, 1, ...: members ordered by distance to the group's medoid (the member with the
    least summed distance to the others), and the reference species nearest the medoid.

    Args:
        embeddings: the grouped items.
        groups: each one's group id, 0, 1, ...
        references: the library's reference embeddings.
        labels: their species.
        metric: ``cosine`` or ``l2``.
    """
    x = prepared(embeddings, metric)
    members_of = np.split(np.argsort(groups, kind="stable"), np.cumsum(np.bincount(groups))[:-1]) \
        if len(groups) else []
    ordered = []
    for members in members_of:
        candidates = members[:: max(1, len(members) // MEDOID_CANDIDATES)]  # a large group: a spread-out subset
        medoid = candidates[int(np.argmin(_distances(x[candidates], x[members], metric).sum(1)))]
        ordered.append(members[np.argsort(_distances(x[[medoid]], x[members], metric)[0], kind="stable")])
    if not ordered:
        return []
    distance, nearest = knn_search(references, embeddings[[m[0] for m in ordered]], 1, metric)
    return [GroupSummary(m, int(labels[i]), float(d)) for m, i, d in zip(ordered, nearest[:, 0], distance[:, 0])]


def _distances(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Cosine distance of prepared (unit) rows, or Euclidean."""
    if metric == "cosine":
        return np.clip(1.0 - a @ b.T, 0, None)
    return np.sqrt(np.clip((a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T, 0, None))

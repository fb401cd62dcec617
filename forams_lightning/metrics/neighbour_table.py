"""Each database row's nearest other rows, kept up to date as rows are added or removed. Pure functions.

Hubness (CSLS), local spread (the novelty score's scale) and reference sparsity (the per-species novelty threshold)
are all read off each reference's few nearest other references. Computed from scratch they cost a search of the whole
database against itself (10,000 references: ~0.5 s on 2 cores); kept in a table they cost one row of distances per
added reference, which is what lets a live review re-identify a sample after every verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forams_lightning.metrics.vectors import prepared

BLOCK_CELLS = 2**22  # distances computed at once: 16 MiB of float32, and 32 MiB for the argpartition of a block


def pairwise_distances(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Distances of every row of `a` to every row of `b`, both `prepared` for `metric` (cosine: 1 - similarity)."""
    products = a @ b.T
    if metric == "cosine":
        return np.maximum(1.0 - products, 0)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * products
    return np.sqrt(np.maximum(squared, 0))


def nearest_of(distances: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """The `depth` smallest of each row (ascending) and their columns; rows with fewer are padded (inf, -1)."""
    n, m = distances.shape
    take = min(depth, m)
    ids = np.argpartition(distances, take - 1, axis=1)[:, :take] if 0 < take < m else np.tile(np.arange(m), (n, 1))
    values = np.take_along_axis(distances, ids, 1)
    order = np.argsort(values, axis=1, kind="stable")
    values, ids = np.take_along_axis(values, order, 1), np.take_along_axis(ids, order, 1)
    pad = depth - take
    return (np.pad(values, ((0, 0), (0, pad)), constant_values=np.inf),
            np.pad(ids, ((0, 0), (0, pad)), constant_values=-1))


@dataclass(frozen=True)
class NeighbourTable:
    """`distances[i]`, `ids[i]`: row i's `depth` nearest other rows of `database` (ascending; inf / -1 where the
    database has fewer). An exact duplicate of a row counts as another row, as in `metrics.reranking.hubness`."""

    database: np.ndarray  # rows `prepared` for `metric`
    distances: np.ndarray
    ids: np.ndarray
    metric: str

    @classmethod
    def build(cls, database: np.ndarray, depth: int, metric: str) -> NeighbourTable:
        empty = cls(prepared(database[:0], metric), np.zeros((0, depth), np.float32), np.zeros((0, depth), int),
                    metric)
        return empty.added(database)

    @property
    def depth(self) -> int:
        return self.distances.shape[1]

    def added(self, rows: np.ndarray) -> NeighbourTable:
        """The table of the database with `rows` appended: their own nearest, and every old row's list merged with
        its distances to them."""
        new = prepared(rows, self.metric)
        database = np.concatenate([self.database, new])
        n, m = len(self.database), len(new)
        own_d, own_i = _nearest_others(new, database, n, self.depth, metric=self.metric)
        to_new = pairwise_distances(self.database, new, self.metric)
        merged = np.concatenate([self.distances, to_new], 1)
        merged_ids = np.concatenate([self.ids, np.tile(np.arange(n, n + m), (n, 1))], 1)
        keep = np.argsort(merged, axis=1, kind="stable")[:, :self.depth]
        old_d, old_i = np.take_along_axis(merged, keep, 1), np.take_along_axis(merged_ids, keep, 1)
        return NeighbourTable(database, np.concatenate([old_d, own_d]).astype(np.float32),
                              np.concatenate([old_i, own_i]), self.metric)

    def removed(self, keep: np.ndarray) -> NeighbourTable:
        """The table of the database with only the rows where `keep` is true: rows that lost a neighbour are searched
        again, the others renumbered."""
        keep = np.asarray(keep, bool)
        renumber = np.full(len(keep) + 1, -1)  # index -1 (padding) stays -1
        renumber[:-1][keep] = np.arange(keep.sum())
        database, ids, distances = self.database[keep], renumber[self.ids[keep]], self.distances[keep].copy()
        lost = ((ids < 0) & np.isfinite(distances)).any(1)
        if lost.any():
            distances[lost], ids[lost] = _nearest_others(database[lost], database, np.flatnonzero(lost), self.depth,
                                                         metric=self.metric)
        return NeighbourTable(database, distances, ids, self.metric)

    def nearest(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and ids of each row's `k` (<= depth) nearest other rows."""
        if k > self.depth:
            raise ValueError(f"the table keeps {self.depth} neighbours a row, not {k}")
        return self.distances[:, :k], self.ids[:, :k]


def _nearest_others(rows: np.ndarray, database: np.ndarray, positions: int | np.ndarray, depth: int,
                    *, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Each of `rows` (at `positions` in `database`: an int offset of consecutive rows, or their indices): its
    `depth` nearest other rows of `database`, computed in blocks of `BLOCK_CELLS`."""
    at = np.arange(positions, positions + len(rows)) if isinstance(positions, int) else np.asarray(positions)
    out_d, out_i = [], []
    step = max(1, BLOCK_CELLS // max(len(database), 1))
    for start in range(0, len(rows), step):
        block = pairwise_distances(rows[start:start + step], database, metric)
        block[np.arange(len(block)), at[start:start + step]] = np.inf  # not itself
        d, i = nearest_of(block, depth)
        i[~np.isfinite(d)] = -1
        out_d.append(d)
        out_i.append(i)
    if not out_d:
        return np.zeros((0, depth), np.float32), np.zeros((0, depth), int)
    return np.concatenate(out_d), np.concatenate(out_i)

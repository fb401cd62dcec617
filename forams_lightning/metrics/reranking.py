"""Neighbourhood re-ranking of embeddings without labels (FAISS). Pure functions, on unit vectors (cosine geometry).

- Query expansion and database-side augmentation (α-QE / αDBA, Radenović, Tolias & Chum, TPAMI 2018): a vector is
  replaced by the similarity-weighted mean of itself and its nearest neighbours, which pulls the members of a tight
  species group together and leaves stragglers where they are.
- Hubness (CSLS, Conneau et al., ICLR 2018): a database vector's mean similarity to its k nearest other database
  vectors. A "hub" sits close to many vectors of several species and is the nearest neighbour of queries it does not
  belong with; ranking by cos(q, g) - hubness(g) / 2 (`metrics.knn.knn_search(csls_k=...)`) demotes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from forams_lightning.metrics.vectors import check_metric, unit_rows


@dataclass(frozen=True)
class Reranking:
    """How nearest neighbours are re-ranked before they vote (cosine geometry only); 0 turns a step off.

    - `expansion_k` > 0: α-query expansion / database-side augmentation: every vector replaced by its
      similarity^`expansion_alpha`-weighted mean with its `expansion_k` nearest (`neighbour_expansion`);
    - `csls_k` > 0: neighbours ranked by CSLS over `csls_k` neighbours (`metrics.knn.knn_search`), which demotes
      hub vectors close to many species."""

    expansion_k: int = 0
    expansion_alpha: float = 3.0
    csls_k: int = 0

    def __post_init__(self) -> None:
        for key in ("expansion_k", "csls_k"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"reranking.{key} must be a whole number >= 0 (got {value!r})")

    def check(self, metric: str) -> Reranking:
        """Itself, where `metric` allows it: both steps work on cosine similarities."""
        check_metric(metric)
        for key in ("expansion_k", "csls_k"):
            if getattr(self, key) and metric != "cosine":
                raise ValueError(f"reranking.{key}={getattr(self, key)} needs the cosine metric (got {metric!r})")
        return self

    def expand(self, database: np.ndarray, queries: np.ndarray | None = None) -> np.ndarray:
        """`neighbour_expansion` of `queries` (default: the database itself) where `expansion_k`, else them as
        they are."""
        if not self.expansion_k:
            return database if queries is None else queries
        return neighbour_expansion(database, self.expansion_k, self.expansion_alpha, queries)


def neighbour_expansion(database: np.ndarray, k: int = 2, alpha: float = 3.0,
                        queries: np.ndarray | None = None) -> np.ndarray:
    """Each row of `queries` (default: of `database` itself, database-side augmentation) replaced by the
    L2-normalised sum of itself and its `k` nearest other database vectors, each weighted by its cosine similarity to
    the row raised to `alpha` (negative similarities count as 0). ``k=0`` only normalises.

    A row of `database` finds itself first and does not count it among its `k` neighbours; a query outside the
    database keeps weight 1 for itself.

    Args:
        database: the database's vectors.
        k: nearest database vectors added to each row.
        alpha: the power of the similarity weights.
        queries: rows to expand (default: the database's own).
    """
    db = unit_rows(database)
    own = queries is None
    q = db if queries is None else unit_rows(queries)
    k = min(k, len(db) - 1 if own else len(db))
    if k <= 0:
        return q.copy()
    if own:
        sims, ids = _nearest_others(db, k)
    else:
        index = faiss.IndexFlatIP(db.shape[1])
        index.add(db)
        sims, ids = index.search(q, k)
    weights = np.clip(sims, 0, None) ** alpha
    expanded = q + np.einsum("nk,nkd->nd", weights, db[ids])
    return unit_rows(expanded)


def hubness(database: np.ndarray, k: int) -> np.ndarray:
    """Each row's mean cosine similarity to its `k` nearest other rows (capped at the others there are; 0 for a
    single row): CSLS's r."""
    db = unit_rows(database)
    k = min(k, len(db) - 1)
    if k <= 0:
        return np.zeros(len(db), np.float32)
    return _nearest_others(db, k)[0].mean(1)


def _nearest_others(db: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Similarities and indices of each unit row's `k` (< len(db)) nearest other rows."""
    index = faiss.IndexFlatIP(db.shape[1])
    index.add(db)
    sims, ids = index.search(db, k + 1)
    # drop each row's own entry (an exact duplicate may come first instead: drop one entry either way)
    self_hit = ids == np.arange(len(db))[:, None]
    first = np.where(self_hit.any(1), self_hit.argmax(1), k)
    keep = np.ones_like(self_hit)
    keep[np.arange(len(db)), first] = False
    return sims[keep].reshape(len(db), k), ids[keep].reshape(len(db), k)

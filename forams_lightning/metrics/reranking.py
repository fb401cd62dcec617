"""Neighbourhood re-ranking of embeddings without labels (FAISS). Pure functions.

Query expansion and database-side augmentation (α-QE / αDBA, Radenović, Tolias & Chum, TPAMI 2018): a vector is
replaced by the similarity-weighted mean of itself and its nearest neighbours, which pulls the members of a tight
species group together and leaves stragglers where they are. On unit vectors (cosine geometry).
"""

from __future__ import annotations

import faiss
import numpy as np


def neighbour_expansion(database: np.ndarray, k: int = 2, alpha: float = 3.0,
                        queries: np.ndarray | None = None) -> np.ndarray:
    """Each row of `queries` (default: of `database` itself, database-side augmentation) replaced by the
    L2-normalised sum of itself and its `k` nearest other database vectors, each weighted by its cosine similarity to
    the row raised to `alpha` (negative similarities count as 0). ``k=0`` only normalises.

    A row of `database` finds itself first and does not count it among its `k` neighbours; a query outside the
    database keeps weight 1 for itself."""
    db = _unit(database)
    own = queries is None
    q = db if own else _unit(queries)
    k = min(k, len(db) - 1 if own else len(db))
    if k <= 0:
        return q.copy()
    index = faiss.IndexFlatIP(db.shape[1])
    index.add(db)
    sims, ids = index.search(q, k + 1 if own else k)
    if own:  # drop each row's own entry (an exact duplicate may come first instead: drop one entry either way)
        self_hit = ids == np.arange(len(q))[:, None]
        first = np.where(self_hit.any(1), self_hit.argmax(1), k)
        keep = np.ones_like(self_hit)
        keep[np.arange(len(q)), first] = False
        sims, ids = sims[keep].reshape(len(q), k), ids[keep].reshape(len(q), k)
    weights = np.clip(sims, 0, None) ** alpha
    expanded = q + np.einsum("nk,nkd->nd", weights, db[ids])
    return _unit(expanded)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

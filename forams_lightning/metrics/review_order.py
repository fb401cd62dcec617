"""Which specimen an expert should look at next. Pure functions.

A verdict fixes its specimen and, through the library it grows, the specimens that resemble it: once it is a
reference, every specimen nearer to it than to any reference has it as its nearest neighbour. So the default order
adds to each specimen's own uncertainty the uncertainty of the specimens it would become the nearest reference of: a
typical member of a cluster of uncertain specimens far from the references comes before an uncertain loner
(typicality at small budgets, uncertainty later, as in the active-learning literature: TypiClust, Hacohen et al.
ICML 2022; margin sampling). It is recomputed on the specimens left after every verdict, so a cluster a verdict has
settled drops back.

- ``benefit``: uncertainty + the uncertainty of those of its `neighbours` nearest other specimens left that are
  nearer to it than to their nearest reference (their `reach`);
- ``uncertainty``: least certain first (novel, then lowest vote share, then highest novelty score);
- ``random``: a seeded shuffle (the baseline of the simulated expert).
"""

from __future__ import annotations

import numpy as np

from forams_lightning.metrics.neighbour_table import NeighbourTable

ORDERS = ("benefit", "uncertainty", "random")
NEIGHBOURS = 10


def uncertainty(vote_share: np.ndarray, novel: np.ndarray) -> np.ndarray:
    """1 - the vote share, plus 1 for a specimen flagged novel (no known species is its answer)."""
    return 1.0 - np.asarray(vote_share, float) + np.asarray(novel, bool)


def uncertainty_order(novel: np.ndarray, vote_share: np.ndarray, novelty_score: np.ndarray) -> np.ndarray:
    """Indices, least certain first: novel specimens, then by ascending vote share, then by descending novelty score
    (the score the novel flag thresholds)."""
    return np.lexsort((-np.asarray(novelty_score), np.asarray(vote_share), ~np.asarray(novel, bool)))


def benefit(embeddings: np.ndarray, own: np.ndarray, reach: np.ndarray, metric: str = "cosine",
            *, neighbours: int = NEIGHBOURS) -> np.ndarray:
    """Each specimen's expected benefit: its `own` uncertainty plus that of each of its `neighbours` nearest other
    specimens j that is nearer to it than `reach[j]` (j's distance to its nearest reference).

    Args:
        embeddings: the specimens'.
        own: each one's uncertainty.
        reach: each one's distance to its nearest reference.
        metric: ``cosine`` or ``l2``.
        neighbours: how many nearest other specimens it could settle.
    """
    own = np.asarray(own, float)
    if len(own) < 2:
        return own.copy()
    table = NeighbourTable.build(embeddings, min(neighbours, len(own) - 1), metric)
    ids = np.maximum(table.ids, 0)
    covered = (table.ids >= 0) & (table.distances < np.asarray(reach, float)[ids])
    return own + (covered * own[ids]).sum(1)


def review_order(order: str, embeddings: np.ndarray | None, vote_share: np.ndarray, novel: np.ndarray,
                 *, novelty_score: np.ndarray, reach: np.ndarray | None = None, metric: str = "cosine",
                 seed: int = 0) -> np.ndarray:
    """Indices of the specimens (rows of every argument) in the order `order` (`ORDERS`) shows them; ``benefit``
    needs their `embeddings` and `reach` (each one's distance to its nearest reference).

    Args:
        order: ``benefit``, ``uncertainty`` or ``random``.
        embeddings: the specimens' (for ``benefit``).
        vote_share: each one's vote share.
        novel: each one's flag.
        novelty_score: each one's novelty score.
        reach: each one's distance to its nearest reference (for ``benefit``).
        metric: ``cosine`` or ``l2``.
        seed: of the random order.
    """
    if order not in ORDERS:
        raise ValueError(f"order={order!r}: one of {', '.join(ORDERS)}")
    if order == "random":
        return np.random.default_rng(seed).permutation(len(vote_share))
    if order == "uncertainty":
        return uncertainty_order(novel, vote_share, novelty_score)
    if embeddings is None or reach is None:
        raise ValueError("order=benefit needs the specimens' embeddings and their distance to the nearest reference")
    gain = benefit(embeddings, uncertainty(vote_share, novel), reach, metric)
    return np.lexsort((-np.asarray(novelty_score), -gain))

"""k-nearest-neighbour identification against a labelled gallery (FAISS, exact search). Pure functions."""

from __future__ import annotations

from typing import NamedTuple

import faiss
import numpy as np

from forams_lightning.metrics.reranking import hubness
from forams_lightning.metrics.vectors import check_metric, unit_rows


def knn_search(gallery: np.ndarray, queries: np.ndarray, k: int, metric: str = "cosine",
               *, csls_k: int = 0, hub: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distances and gallery indices of the k nearest gallery items of each query, nearest first.

    ``l2``: Euclidean distance; ``cosine``: 1 - cosine similarity. `k` is capped at the gallery size.
    `csls_k` > 0 (cosine only): the neighbours are ranked by cos(q, g) - r(g) / 2 instead, r(g) being g's mean
    similarity to its `csls_k` nearest other gallery items (`metrics.reranking.hubness`; CSLS, Conneau et al. 2018),
    which demotes hubs (pass `hub`, r of every gallery item, to reuse it); the distances returned are then the ones
    ranked by, 1 - (cos(q, g) - r(g) / 2), ascending like every other (a reader sees the order the vote used).

    Args:
        gallery: the gallery's vectors.
        queries: the queries' vectors.
        k: neighbours a query (capped at the gallery's size).
        metric: ``cosine`` or ``l2``.
        csls_k: rank by CSLS over that many neighbours of each gallery item (0: plain ranking).
        hub: every gallery item's CSLS hubness, to reuse it.
    """
    check_metric(metric, "kNN metric")
    if csls_k and metric != "cosine":
        raise ValueError(f"csls_k needs the cosine metric (got {metric!r})")
    gallery = np.ascontiguousarray(gallery, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    k = min(k, len(gallery))
    if metric == "cosine":
        gallery, queries = unit_rows(gallery), unit_rows(queries)
    if csls_k:
        # an exact search for the largest cos(q, g) - r(g)/2 is an inner-product search of [q, 1] against [g, -r/2]
        half = np.asarray(hubness(gallery, csls_k) if hub is None else hub, np.float32)[:, None] / 2
        gallery = np.hstack([gallery, -half])
        queries = np.hstack([queries, np.ones((len(queries), 1), np.float32)])
    index = (faiss.IndexFlatIP if metric == "cosine" else faiss.IndexFlatL2)(gallery.shape[1])
    index.add(np.ascontiguousarray(gallery))
    scores, ids = index.search(np.ascontiguousarray(queries), k)
    distances = np.maximum(1.0 - scores, 0) if metric == "cosine" else np.sqrt(np.maximum(scores, 0))  # no -0.000
    return distances, ids


def knn_vote(neighbour_labels: np.ndarray, num_classes: int | None = None,
             class_sizes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Majority vote over each row of neighbour labels (sorted nearest first).

    A tie goes to the tied species whose member is nearest. Returns (prediction, vote share of the prediction: its
    votes among the k).

    With `class_sizes` (references per species) the vote is balanced for species with fewer than k references: a
    species with m = min(k, its references) scores the share of its possible m votes that it gets among the m
    nearest neighbours. A species known from 2 images wins when both are the 2 nearest, however many references
    the others have; one known from 1 image when it is the nearest. Where every species has at least k references
    this is the plain majority vote.
    """
    neighbour_labels = np.asarray(neighbour_labels)
    n, k = neighbour_labels.shape
    num_classes = num_classes or int(neighbour_labels.max()) + 1
    rows = np.repeat(np.arange(n), k)
    votes = np.zeros((n, num_classes), dtype=np.int64)
    np.add.at(votes, (rows, neighbour_labels.ravel()), 1)
    if class_sizes is None:
        scores = votes / k
    else:
        reach = np.clip(np.asarray(class_sizes)[:num_classes], 1, k)  # m per species
        counted = np.arange(k)[None, :] < reach[neighbour_labels]  # within the species' m nearest
        within = np.zeros((n, num_classes), dtype=np.int64)
        np.add.at(within, (rows, neighbour_labels.ravel()), counted.ravel())
        scores = within / reach
    best = scores.max(1, keepdims=True)
    tied = np.isclose(scores, best)[np.arange(n)[:, None], neighbour_labels]
    first = tied.argmax(1)
    prediction = neighbour_labels[np.arange(n), first]
    return prediction, votes[np.arange(n), prediction] / k


class Identification(NamedTuple):
    """Per query: voted species, its vote share, and the neighbours' labels, distances and gallery indices
    (nearest first)."""

    prediction: np.ndarray
    vote_share: np.ndarray
    labels: np.ndarray
    distances: np.ndarray
    ids: np.ndarray


def knn_identify(gallery: np.ndarray, gallery_labels: np.ndarray, queries: np.ndarray, k: int = 5,
                 *, metric: str = "cosine", balanced: bool = False, csls_k: int = 0,
                 hub: np.ndarray | None = None) -> Identification:
    """Species of each query by a k-NN vote against a labelled gallery (`balanced`: see `knn_vote`; `csls_k`: the
    neighbours ranked by CSLS, see `knn_search`).

    Args:
        gallery: the gallery's vectors.
        gallery_labels: their species.
        queries: the queries' vectors.
        k: neighbours that vote.
        metric: ``cosine`` or ``l2``.
        balanced: the balanced vote (`knn_vote`).
        csls_k: rank by CSLS (`knn_search`).
        hub: every gallery item's CSLS hubness, to reuse it.
    """
    distances, ids = knn_search(gallery, queries, k, metric, csls_k=csls_k, hub=hub)
    gallery_labels = np.asarray(gallery_labels)
    num_classes = int(np.max(gallery_labels)) + 1
    sizes = np.bincount(gallery_labels, minlength=num_classes) if balanced else None
    prediction, share = knn_vote(gallery_labels[ids], num_classes, sizes)
    return Identification(prediction, share, gallery_labels[ids], distances, ids)


def leave_one_out_nearest(embeddings: np.ndarray, metric: str = "cosine", csls_k: int = 0) -> np.ndarray:
    """Index of each item's nearest *other* item (an exact duplicate counts as another item; `csls_k`: ranked by
    CSLS, see `knn_search`, where an item need not rank itself first)."""
    _, ids = knn_search(embeddings, embeddings, k=2, metric=metric, csls_k=csls_k)
    self_first = ids[:, 0] == np.arange(len(embeddings))
    return np.where(self_first, ids[:, 1], ids[:, 0])

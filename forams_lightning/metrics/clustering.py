"""Clustering of embeddings without labels, and its scoring against the true species. Pure functions."""

from __future__ import annotations

import faiss
import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score


def hungarian_match(y_true: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """The species each sample's cluster is matched to, one-to-one with maximum total overlap (species labels are
    non-negative integers); samples in clusters left unmatched get -1, so they count as errors."""
    species, y = np.unique(y_true, return_inverse=True)
    ids, c = np.unique(clusters, return_inverse=True)
    overlap = np.zeros((len(species), len(ids)), dtype=np.int64)
    np.add.at(overlap, (y, c), 1)
    rows, cols = linear_sum_assignment(-overlap)
    cluster_to_species = np.full(len(ids), -1)
    cluster_to_species[cols] = species[rows]
    return cluster_to_species[c]


def cluster_scores(y_true: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """Hungarian-matched accuracy and macro F1 (over the true species), NMI, ARI, number of clusters."""
    matched = hungarian_match(y_true, clusters)
    return {
        "acc": float(np.mean(matched == y_true)),
        "macro_f1": float(f1_score(y_true, matched, labels=np.unique(y_true), average="macro", zero_division=0)),
        "nmi": float(normalized_mutual_info_score(y_true, clusters)),
        "ari": float(adjusted_rand_score(y_true, clusters)),
        "k": float(len(np.unique(clusters))),
    }


def kmeans(embeddings: np.ndarray, k: int, seed: int = 0, cosine: bool = True) -> np.ndarray:
    """FAISS k-means cluster of every embedding (spherical k-means on unit vectors when `cosine`)."""
    x = _prepare(embeddings, cosine)
    # FAISS seeds k-means with random points, not k-means++: 10 restarts avoid the merged-species local minima
    # seen with fewer on small sets.
    km = faiss.Kmeans(x.shape[1], k, niter=50, nredo=10, seed=seed, spherical=cosine, verbose=False,
                      min_points_per_centroid=1)
    km.train(x)
    return km.index.search(x, 1)[1][:, 0]


def agglomerative(embeddings: np.ndarray, threshold: float, cosine: bool = True) -> np.ndarray:
    """Average-linkage clusters cut at a distance threshold: the number of clusters is estimated, not given."""
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, linkage="average",
                                    metric="cosine" if cosine else "euclidean")
    return model.fit_predict(_prepare(embeddings, cosine))


def calibrate_threshold(embeddings: np.ndarray, labels: np.ndarray, cosine: bool = True, steps: int = 40) -> float:
    """The agglomerative cut that best recovers labelled species (max ARI), searched over distance quantiles.

    Calibrated on species with labels (the known validation species), then applied to species never seen."""
    x = _prepare(embeddings, cosine)
    sample = x[np.random.default_rng(0).permutation(len(x))[:500]]
    d = 1 - sample @ sample.T if cosine else np.linalg.norm(sample[:, None] - sample[None], axis=-1)
    candidates = np.unique(np.quantile(d[np.triu_indices(len(sample), 1)], np.linspace(0.005, 0.5, steps)))
    scores = [adjusted_rand_score(labels, agglomerative(x, t, cosine)) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def _prepare(x: np.ndarray, cosine: bool) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12) if cosine else x

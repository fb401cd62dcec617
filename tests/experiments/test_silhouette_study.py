"""The silhouette estimate of the number of unseen species: a study's losing variant, kept in its experiment
(experiments/open_set_radiolaria/silhouette.py) to reproduce its rows."""

import sys

import numpy as np
import pytest
from helpers import REPO, blobs
from sklearn.metrics import adjusted_rand_score

from forams_lightning.evaluation.open_set import OpenSetProtocol

sys.path.insert(0, str(REPO / "experiments" / "open_set_radiolaria"))
from silhouette import calibrate_silhouette, silhouette_clusters, silhouette_k, silhouette_scores  # noqa: E402


@pytest.mark.parametrize("linkage", ["ward", "average", "complete"])
def test_silhouette_k_is_the_best_cut_of_the_tree(linkage):
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    x = np.random.default_rng(6).normal(size=(40, 8))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    metric = "euclidean" if linkage == "ward" else "cosine"
    scores, cuts = {}, {}
    for k in range(2, 21):  # the 60-point log grid from 2 to n/2 = 20 holds every count
        cuts[k] = AgglomerativeClustering(n_clusters=k, linkage=linkage, metric=metric).fit_predict(unit)
        scores[k] = silhouette_score(unit, cuts[k], metric=metric)
    best = max(scores, key=scores.get)
    assert silhouette_k(x, linkage=linkage) == best
    for k in (2, 7, best):  # the same tree cut into best / over_count clusters
        clusters = silhouette_clusters(x, best / k, linkage=linkage)
        assert adjusted_rand_score(cuts[k], clusters) == pytest.approx(1.0)


def _split_blobs(rng, n_species, per=12, dim=16):
    """Species of two tight halves each, 0.8 either side of the species centre: the silhouette prefers the halves."""
    centres, offsets = rng.normal(size=(n_species, dim)), rng.normal(size=(n_species, dim))
    offsets *= 0.8 / np.linalg.norm(offsets, axis=1, keepdims=True)
    y = np.repeat(np.arange(n_species), per)
    side = np.tile(np.repeat([1.0, -1.0], per // 2), n_species)[:, None]
    return centres[y] + side * offsets[y] + 0.02 * rng.normal(size=(len(y), dim)), y


def test_silhouette_estimate_divides_by_the_calibration_sets_over_count():
    rng = np.random.default_rng(8)
    calibration, unseen = _split_blobs(rng, 8), _split_blobs(rng, 5)
    assert silhouette_k(unseen[0]) == 10 and calibrate_silhouette(*calibration) == pytest.approx(2.0)
    assert calibrate_silhouette(*blobs(rng, 6)) == pytest.approx(1.0)
    protocol = OpenSetProtocol(species_count={"linkage": "average"})
    scores = silhouette_scores(protocol, {"unknown_test": unseen, "unknown_val": calibration}, None)
    assert scores["open/agglo_silhouette_ratio"] == pytest.approx(2.0)
    assert scores["open/agglo_k"] == 5 and scores["open/agglo_acc"] == 1.0

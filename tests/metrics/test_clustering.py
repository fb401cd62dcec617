"""Cluster scores, k-means and the calibrated agglomerative cut against SciPy, scikit-learn and hand-computed values."""

import numpy as np
import pytest
from helpers import blobs
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score

from forams_lightning.metrics.clustering import (
    agglomerative,
    calibrate_threshold,
    cluster_scores,
    drawn_count,
    hungarian_match,
    kmeans,
)


def test_hungarian_match_by_hand():
    y = np.array([0, 0, 0, 1, 1, 2])
    clusters = np.array([5, 5, 7, 7, 7, 9])
    # overlaps: species0-c5 2, species1-c7 2, species2-c9 1 -> matched labels 0,0,1,1,1,2
    np.testing.assert_array_equal(hungarian_match(y, clusters), [0, 0, 1, 1, 1, 2])


def test_extra_clusters_count_as_errors():
    y = np.array([0, 0, 1, 1])
    clusters = np.array([0, 1, 2, 2])  # 3 clusters for 2 species: one cluster stays unmatched
    matched = hungarian_match(y, clusters)
    assert (matched == -1).sum() == 1 and cluster_scores(y, clusters)["acc"] == 0.75


def test_cluster_scores_match_scipy_and_sklearn_on_random_inputs():
    rng = np.random.default_rng(0)
    for _ in range(5):
        y = rng.integers(0, 6, 80)
        c = np.where(rng.random(80) < 0.6, y + 10, rng.integers(0, 8, 80))
        s = cluster_scores(y, c)
        species, clusters = np.unique(y), np.unique(c)
        overlap = np.array([[np.sum((y == a) & (c == b)) for b in clusters] for a in species])
        r, k = linear_sum_assignment(-overlap)
        assert s["acc"] == pytest.approx(overlap[r, k].sum() / len(y))
        mapped = np.full(len(y), -1)
        for a, b in zip(species[r], clusters[k]):
            mapped[c == b] = a
        assert s["macro_f1"] == pytest.approx(f1_score(y, mapped, labels=species, average="macro", zero_division=0))
        assert s["nmi"] == pytest.approx(normalized_mutual_info_score(y, c))
        assert s["ari"] == pytest.approx(adjusted_rand_score(y, c))
        assert s["k"] == len(clusters)




def test_kmeans_and_calibrated_agglomerative_recover_separated_species():
    rng = np.random.default_rng(1)
    x, y = blobs(rng)
    assert cluster_scores(y, kmeans(x, 5, seed=0))["ari"] == pytest.approx(1.0)
    calib_x, calib_y = blobs(rng, n_species=7)
    threshold = calibrate_threshold(calib_x, calib_y)  # ward on unit vectors: the defaults agree
    s = cluster_scores(y, agglomerative(x, threshold))
    assert s["k"] == 5 and s["acc"] == 1.0


@pytest.mark.parametrize("linkage", ["ward", "average", "complete"])
def test_calibrated_cut_finds_the_number_of_species_of_the_calibration_set(linkage):
    rng = np.random.default_rng(3)
    calib_x, calib_y = blobs(rng, n_species=9, per=6, spread=0.05)
    threshold = calibrate_threshold(calib_x, calib_y, linkage=linkage)
    assert len(np.unique(agglomerative(calib_x, threshold, linkage=linkage))) == 9
    x, y = blobs(rng, n_species=4, per=10, spread=0.05)  # unseen species with the same spread
    assert cluster_scores(y, agglomerative(x, threshold, linkage=linkage))["k"] == 4
    big_x, big_y = blobs(rng, n_species=40, per=10, spread=0.05, dim=64)  # drawn down to whole species
    cut = calibrate_threshold(big_x, big_y, linkage=linkage, max_items=100)
    assert len(np.unique(agglomerative(big_x, cut, linkage=linkage))) == 40


def test_drawn_count_is_the_cuts_count_on_draws_of_a_share_of_the_items():
    x, _ = blobs(np.random.default_rng(5), n_species=4, per=10)
    for threshold in (1e-4, 0.01, 0.5, 2.0):  # every item drawn: the cut's own count
        whole = len(np.unique(agglomerative(x, threshold, linkage="average")))
        assert drawn_count(x, threshold, 1.0, draws=2, linkage="average") == whole
    assert drawn_count(x, 1e-9, 0.5, draws=3, linkage="average") == 20  # each item alone: as many as drawn
    assert drawn_count(x, 0.1, 0.5, draws=3, linkage="average") == 4  # each species keeps some of its 10 items

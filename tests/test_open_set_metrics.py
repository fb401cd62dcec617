import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score, roc_auc_score

from forams_lightning.metrics.clustering import (
    agglomerative,
    calibrate_threshold,
    cluster_scores,
    hungarian_match,
    kmeans,
)
from forams_lightning.metrics.knn import leave_one_out_nearest
from forams_lightning.metrics.novelty import novelty_scores, oscr


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


def _blobs(rng, n_species=5, per=12, spread=0.05, dim=16):
    centres = rng.normal(size=(n_species, dim))
    y = np.repeat(np.arange(n_species), per)
    return centres[y] + spread * rng.normal(size=(len(y), dim)), y


def test_kmeans_and_calibrated_agglomerative_recover_separated_species():
    rng = np.random.default_rng(1)
    x, y = _blobs(rng)
    assert cluster_scores(y, kmeans(x, 5, seed=0))["ari"] == pytest.approx(1.0)
    calib_x, calib_y = _blobs(rng, n_species=7)
    threshold = calibrate_threshold(calib_x, calib_y)
    s = cluster_scores(y, agglomerative(x, threshold))
    assert s["k"] == 5 and s["acc"] == 1.0


def test_leave_one_out_nearest_skips_self_and_keeps_duplicates():
    x = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 6.0]])
    nn = leave_one_out_nearest(x)
    assert nn[0] == 1 and nn[1] == 0 and nn[2] == 3 and nn[3] == 2


def test_novelty_scores_by_hand_and_against_sklearn():
    known = np.array([0.1, 0.2, 0.3, 0.4])
    unknown = np.array([0.35, 0.5, 0.6])
    correct = np.array([True, True, False, True])
    s = novelty_scores(known, unknown, correct, keep=0.75)
    assert s["auroc"] == pytest.approx(roc_auc_score([0] * 4 + [1] * 3, np.r_[known, unknown]))
    assert s["threshold"] == pytest.approx(0.325)  # 75th percentile of the known scores
    assert s["acc_at_keep"] == pytest.approx(2 / 3)  # kept: 0.1, 0.2, 0.3 -> two correct
    assert s["unknown_rejected"] == 1.0


def test_oscr_perfect_and_by_hand():
    # perfectly separated, all correct: CCR reaches 1 before any unknown is accepted -> area 1
    assert oscr(np.array([0.1, 0.2]), np.array([0.5, 0.6]), np.array([True, True])) == pytest.approx(1.0)
    # thresholds -inf,0.1,0.2,0.3: (fpr, ccr) = (0,0),(0,.5),(1,.5),(1,1) -> area 0.5
    assert oscr(np.array([0.1, 0.3]), np.array([0.2]), np.array([True, True])) == pytest.approx(0.5)


def test_summary_table_mean_and_std():
    from forams_lightning.sweep_summary import summary_table

    table = summary_table({"a": {"open/x": 0.5, "test/y": 1.0, "seed": 1}, "b": {"open/x": 0.7, "test/y": 0.0}})
    lines = table.splitlines()
    assert lines[0] == "| job | open/x | test/y |"
    assert lines[-1] == "| **mean ± std** (n=2) | 0.600 ± 0.141 | 0.500 ± 0.707 |"

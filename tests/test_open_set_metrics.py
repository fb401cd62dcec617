import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, f1_score, normalized_mutual_info_score, roc_auc_score

from forams_lightning.evaluation.calibration import CalibrationSets
from forams_lightning.evaluation.open_set import OpenSetProtocol
from forams_lightning.evaluation.species_count import UNSEEN_DRAWS
from forams_lightning.metrics.clustering import (
    agglomerative,
    calibrate_threshold,
    cluster_scores,
    drawn_count,
    hungarian_match,
    kmeans,
)
from forams_lightning.metrics.knn import leave_one_out_nearest
from forams_lightning.metrics.novelty import novelty_distance, novelty_scores, oscr


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
    threshold = calibrate_threshold(calib_x, calib_y)  # ward on unit vectors: the defaults agree
    s = cluster_scores(y, agglomerative(x, threshold))
    assert s["k"] == 5 and s["acc"] == 1.0


def test_leave_one_out_nearest_skips_self_and_keeps_duplicates():
    x = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 6.0]])
    nn = leave_one_out_nearest(x, "l2")
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


def test_novelty_distance_by_hand():
    def line(*v):  # points on a line, Euclidean
        return np.c_[np.array(v, float), np.zeros(len(v))]

    gallery, queries = line(0, 1, 10, 12), line(3, 11)
    # plain: distances to (0, 1, 10, 12) are (3, 2, 7, 9) and (11, 10, 1, 1)
    assert novelty_distance(gallery, queries, "l2") == pytest.approx([2, 1])
    assert novelty_distance(gallery, queries, "l2", neighbours=2) == pytest.approx([2.5, 1])
    # spreads (distance to the nearest other item): 1, 1, 2, 2 -> scaled (3, 2, 3.5, 4.5) and (11, 10, .5, .5)
    assert novelty_distance(gallery, queries, "l2", scale_k=1) == pytest.approx([2, 0.5])
    assert novelty_distance(gallery, queries, "l2", neighbours=2, scale_k=1) == pytest.approx([2.5, 0.5])
    # duplicates have no spread: floored at the smallest positive one (5), never a division by zero
    assert novelty_distance(line(0, 0, 5), line(1), "l2", scale_k=1) == pytest.approx([0.2])


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


def test_neighbour_expansion_by_hand():
    from forams_lightning.metrics.reranking import neighbour_expansion

    a, b, c = [1.0, 0.0], [0.8, 0.6], [0.0, 1.0]  # cos(a, b) = 0.8, cos(b, c) = 0.6, cos(a, c) = 0
    unit = lambda v: np.array(v) / np.linalg.norm(v)  # noqa: E731
    expected = [unit([1 + 0.8**3 * 0.8, 0.8**3 * 0.6]),  # a + 0.8^3 b
                unit([0.8 + 0.8**3, 0.6]),  # b + 0.8^3 a (a is nearer to b than c)
                unit([0.6**3 * 0.8, 1 + 0.6**3 * 0.6])]  # c + 0.6^3 b
    np.testing.assert_allclose(neighbour_expansion(np.array([a, b, c]) * 3, k=1, alpha=3), expected, atol=1e-6)
    q = [0.6, 0.8]  # a query outside the database: itself (weight 1) + its nearest reference b (cos 0.96)
    np.testing.assert_allclose(neighbour_expansion(np.array([a, b, c]), k=1, alpha=3, queries=np.array([q])),
                               [unit([0.6 + 0.96**3 * 0.8, 0.8 + 0.96**3 * 0.6])], atol=1e-6)
    np.testing.assert_allclose(neighbour_expansion(np.array([a, b]), k=0), [a, b])


def test_csls_demotes_a_hub_by_hand():
    from forams_lightning.metrics.knn import knn_search
    from forams_lightning.metrics.reranking import hubness

    # a at 0 deg, b at 36.87 deg, c at 90 deg: cos(a, b) = 0.8, cos(b, c) = 0.6, cos(a, c) = 0; b is the hub
    gallery = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    np.testing.assert_allclose(hubness(gallery, 1), [0.8, 0.8, 0.6], atol=1e-6)
    np.testing.assert_allclose(hubness(gallery, 2), [0.4, 0.7, 0.3], atol=1e-6)
    q = np.array([[0.5, 3**0.5 / 2]])  # at 60 deg: cos to a, b, c = 0.5, 0.4 + 0.3 * 3**0.5, 0.866
    cos = np.array([0.5, 0.4 + 0.3 * 3**0.5, 3**0.5 / 2])
    _, plain = knn_search(gallery, q, 3, "cosine")
    assert plain.tolist() == [[1, 2, 0]]
    # CSLS, k = 1: cos - r / 2 = 0.1, 0.920 - 0.4 = 0.520, 0.866 - 0.3 = 0.566 -> c, b, a; the distances are the
    # ones ranked by, so they ascend
    distances, ids = knn_search(gallery, q, 3, "cosine", csls_k=1)
    assert ids.tolist() == [[2, 1, 0]]
    np.testing.assert_allclose(distances, [1 - (cos - np.array([0.4, 0.4, 0.3]))[[2, 1, 0]]], atol=1e-6)
    assert np.all(np.diff(distances) >= 0)
    with pytest.raises(ValueError, match="csls_k needs the cosine metric"):
        knn_search(gallery, q, 3, "l2", csls_k=1)


def test_csls_leave_one_out_matches_brute_force():
    x = np.random.default_rng(4).normal(size=(60, 8))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    r = np.sort(sims, axis=1)[:, -5:].mean(1)  # each item's mean similarity to its 5 nearest others
    expected = np.argmax(sims - r[None, :] / 2, axis=1)
    found = leave_one_out_nearest(x, "cosine", csls_k=5)
    np.testing.assert_array_equal(found, expected)
    assert not np.array_equal(found, leave_one_out_nearest(x, "cosine"))  # the ranking did change

    labels = np.arange(60) % 7
    scores = OpenSetProtocol(reranking={"csls_k": 5}).score({"unknown_test": (x, labels)})
    assert scores["open/loo_1nn_acc"] == pytest.approx(np.mean(labels[expected] == labels))
    with pytest.raises(ValueError, match="reranking.csls_k=5 needs the cosine metric"):
        OpenSetProtocol(metric="l2", reranking={"csls_k": 5})


@pytest.mark.parametrize("linkage", ["ward", "average", "complete"])
def test_calibrated_cut_finds_the_number_of_species_of_the_calibration_set(linkage):
    rng = np.random.default_rng(3)
    calib_x, calib_y = _blobs(rng, n_species=9, per=6, spread=0.05)
    threshold = calibrate_threshold(calib_x, calib_y, linkage=linkage)
    assert len(np.unique(agglomerative(calib_x, threshold, linkage=linkage))) == 9
    x, y = _blobs(rng, n_species=4, per=10, spread=0.05)  # unseen species with the same spread
    assert cluster_scores(y, agglomerative(x, threshold, linkage=linkage))["k"] == 4
    big_x, big_y = _blobs(rng, n_species=40, per=10, spread=0.05, dim=64)  # drawn down to whole species
    cut = calibrate_threshold(big_x, big_y, linkage=linkage, max_items=100)
    assert len(np.unique(agglomerative(big_x, cut, linkage=linkage))) == 40


def test_drawn_count_is_the_cuts_count_on_draws_of_a_share_of_the_items():
    x, _ = _blobs(np.random.default_rng(5), n_species=4, per=10)
    for threshold in (1e-4, 0.01, 0.5, 2.0):  # every item drawn: the cut's own count
        whole = len(np.unique(agglomerative(x, threshold, linkage="average")))
        assert drawn_count(x, threshold, 1.0, draws=2, linkage="average") == whole
    assert drawn_count(x, 1e-9, 0.5, draws=3, linkage="average") == 20  # each item alone: as many as drawn
    assert drawn_count(x, 0.1, 0.5, draws=3, linkage="average") == 4  # each species keeps some of its 10 items


def test_match_sizes_counts_the_unseen_species_on_draws_where_the_data_has_no_val_species(caplog):
    rng = np.random.default_rng(9)
    unseen, crossfit = _blobs(rng, n_species=5, per=10), tuple(_blobs(rng, n_species=6, per=7) for _ in range(2))
    matched = OpenSetProtocol(species_count={"linkage": "average", "calibration_draws": 2, "match_sizes": True})
    scores = matched.score({"unknown_test": unseen}, CalibrationSets(crossfit, 0.7))
    assert scores["open/agglo_share"] == 0.7 and scores["open/agglo_k"] == 5 and scores["open/agglo_acc"] == 1.0
    # the whole set is cut into the draws' mean count: species the cut splits apart (two scattered images each) are
    # counted as many times as their images are drawn, not as many as they have
    scattered = rng.normal(size=(20, 16))
    x, y = np.concatenate([unseen[0], scattered]), np.concatenate([unseen[1], 5 + np.arange(20) // 2])
    scores = matched.score({"unknown_test": (x, y)}, CalibrationSets(crossfit, 0.7))
    cut = scores["open/agglo_threshold"]
    whole = len(np.unique(agglomerative(x, cut, linkage="average")))
    assert scores["open/agglo_k"] == round(drawn_count(x, cut, 0.7, UNSEEN_DRAWS, linkage="average")) < whole
    # a benchmark's own val species: its unseen species are counted whole; so without match_sizes, and without
    # the share (embeddings saved before it was), the latter with a warning
    plain = OpenSetProtocol(species_count={"linkage": "average"})
    for scored in (matched.score({"unknown_test": unseen, "unknown_val": _blobs(rng)}, CalibrationSets(crossfit, 0.7)),
                   plain.score({"unknown_test": unseen}, CalibrationSets(crossfit, 0.7)),
                   matched.score({"unknown_test": unseen}, CalibrationSets(crossfit))):
        assert "open/agglo_share" not in scored and scored["open/agglo_k"] == 5
    assert "match_sizes without the calibration sets' share" in caplog.text


def test_validation_computes_the_cheap_metrics_and_the_groups_can_be_chosen():
    rng = np.random.default_rng(2)
    parts = {"train": _blobs(rng, 4), "val": _blobs(rng, 4, per=3), "unknown_val": _blobs(rng, 5)}
    scores = OpenSetProtocol().score(parts, stage="val", include=("loo", "kmeans"))
    assert set(scores) == {"open_val/loo_1nn_acc", "open_val/loo_1nn_macro_f1", "open_val/k_true",
                           *(f"open_val/kmeans_{k}" for k in ("acc", "macro_f1", "nmi", "ari", "k"))}
    assert OpenSetProtocol().score(parts) is None  # no unseen test species: nothing to score
    full = OpenSetProtocol().score({**parts, "unknown_test": parts.pop("unknown_val"), "test": parts.pop("val")})
    assert {"open/knn_acc", "open/agglo_k", "open/novelty_auroc"} <= set(full)


def test_open_set_cut_is_calibrated_on_the_cross_fitted_sets_first():
    rng = np.random.default_rng(5)
    unknown, val = _blobs(rng, n_species=5, per=8, spread=0.05), _blobs(rng, n_species=6, per=8, spread=0.05)
    loose, tight = _blobs(rng, n_species=4, per=8, spread=0.2), _blobs(rng, n_species=4, per=8, spread=0.1)
    parts = {"unknown_test": unknown, "unknown_val": val}
    protocol = OpenSetProtocol(species_count={"linkage": "average"})
    scores = protocol.score(parts, CalibrationSets((loose, tight)))
    expected = (calibrate_threshold(*loose, linkage="average") + calibrate_threshold(*tight, linkage="average")) / 2
    assert scores["open/agglo_threshold"] == pytest.approx(expected)
    # without cross-fitted sets (a run without them, or embeddings alone): the val species
    assert protocol.score(parts)["open/agglo_threshold"] == pytest.approx(
        calibrate_threshold(*val, linkage="average"))
    # calibration_draws: each set drawn down (whole species, seeded) to the unseen set's image count, cuts averaged
    crowded = _blobs(rng, n_species=30, per=8, spread=0.2)
    drawn = OpenSetProtocol(species_count={"linkage": "average", "calibration_draws": 3}, seed=7)
    cut = drawn.score(parts, CalibrationSets((crowded,)))["open/agglo_threshold"]
    expected = np.mean([calibrate_threshold(*crowded, linkage="average", max_items=40, seed=7 + d) for d in range(3)])
    assert cut == pytest.approx(expected) and cut != pytest.approx(calibrate_threshold(*crowded, linkage="average"))

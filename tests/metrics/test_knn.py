"""The kNN vote against scikit-learn and hand-computed values."""

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from forams_lightning.metrics.knn import knn_identify, knn_search, knn_vote, leave_one_out_nearest


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_knn_search_matches_sklearn(metric):
    rng = np.random.default_rng(0)
    gallery, queries = rng.normal(size=(200, 16)), rng.normal(size=(50, 16))
    dist, ids = knn_search(gallery, queries, k=5, metric=metric)
    nn = NearestNeighbors(n_neighbors=5, metric="euclidean" if metric == "l2" else "cosine").fit(gallery)
    ref_dist, ref_ids = nn.kneighbors(queries)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-4, atol=1e-5)


def test_knn_search_accepts_non_contiguous_input_and_caps_k():
    rng = np.random.default_rng(1)
    gallery = rng.normal(size=(6, 8))[::2]
    dist, ids = knn_search(gallery, gallery, k=10)
    assert ids.shape == (3, 3) and (ids[:, 0] == np.arange(3)).all()


def test_knn_vote_majority_and_distance_tie_break():
    labels = np.array([
        [1, 2, 2, 1, 3],  # 1 and 2 tie with two votes each: the nearest (1) wins
        [4, 0, 0, 0, 4],  # clear majority 0
        [3, 2, 1, 0, 4],  # all tied: nearest wins
    ])
    prediction, share = knn_vote(labels, num_classes=5)
    np.testing.assert_array_equal(prediction, [1, 0, 3])
    np.testing.assert_allclose(share, [0.4, 0.6, 0.2])


def test_balanced_vote_by_hand():
    labels = np.array([
        [0, 0, 1, 1, 1],  # species 0 (2 references) holds both of the 2 nearest: 2/2 beats species 1's 3/5
        [1, 1, 1, 0, 2],  # species 1 3/5; species 0 and 2 are not within their 2 and 1 nearest: 0
        [2, 0, 1, 1, 1],  # species 2 (1 reference) is the nearest: 1/1; species 0 1/2; species 1 3/5
    ])
    sizes = np.array([2, 40, 1])
    prediction, share = knn_vote(labels, num_classes=3, class_sizes=sizes)
    np.testing.assert_array_equal(prediction, [0, 1, 2])
    np.testing.assert_allclose(share, [0.4, 0.6, 0.2])  # share of the k votes, as in the plain vote
    big = np.array([9, 9, 9])  # every species has >= k references: the plain majority vote
    rng = np.random.default_rng(1)
    many = rng.integers(0, 3, size=(200, 5))
    np.testing.assert_array_equal(knn_vote(many, 3, big)[0], knn_vote(many, 3)[0])


def test_knn_vote_matches_sklearn_classifier_without_ties():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, size=(300, 5))
    prediction, _ = knn_vote(labels, num_classes=3)
    counts = np.stack([(labels == c).sum(1) for c in range(3)], 1)
    unique = (counts == counts.max(1, keepdims=True)).sum(1) == 1
    np.testing.assert_array_equal(prediction[unique], counts.argmax(1)[unique])


def test_knn_identify_matches_sklearn_kneighbors_classifier():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(4)
    centres = rng.normal(size=(4, 8)) * 3
    g_labels = rng.integers(0, 4, 120)
    gallery = centres[g_labels] + rng.normal(size=(120, 8))
    queries = centres[rng.integers(0, 4, 40)] + rng.normal(size=(40, 8))
    prediction, share, neighbours, distances, ids = knn_identify(gallery, g_labels, queries, k=5, metric="l2")
    reference = KNeighborsClassifier(n_neighbors=5).fit(gallery, g_labels)
    counts = np.stack([(neighbours == c).sum(1) for c in range(4)], 1)
    unique = (counts == counts.max(1, keepdims=True)).sum(1) == 1  # sklearn breaks ties by label, we by distance
    np.testing.assert_array_equal(prediction[unique], reference.predict(queries)[unique])
    assert neighbours.shape == distances.shape == (40, 5) and (np.diff(distances, axis=1) >= 0).all()
    np.testing.assert_array_equal(neighbours, g_labels[ids])
    np.testing.assert_allclose(share, counts.max(1) / 5)


def test_leave_one_out_nearest_skips_self_and_keeps_duplicates():
    x = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 6.0]])
    nn = leave_one_out_nearest(x, "l2")
    assert nn[0] == 1 and nn[1] == 0 and nn[2] == 3 and nn[3] == 2

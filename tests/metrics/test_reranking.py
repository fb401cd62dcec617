"""Neighbour expansion and CSLS by hand and against brute force."""

import numpy as np
import pytest

from forams_lightning.evaluation.open_set import OpenSetProtocol
from forams_lightning.metrics.knn import leave_one_out_nearest


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

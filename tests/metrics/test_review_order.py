"""Which specimen comes next: benefit, uncertainty, random."""

from __future__ import annotations

import numpy as np
import pytest

from forams_lightning.metrics.review_order import benefit, review_order, uncertainty, uncertainty_order


def test_review_sorts_least_certain_first():
    # a: certain; b, c: split votes, c farther; d: novel
    novel, share, distance = [False, False, False, True], [1.0, 0.6, 0.6, 1.0], [0.1, 0.1, 0.3, 0.9]
    assert uncertainty_order(novel, share, distance).tolist() == [3, 2, 1, 0]


def _cluster_and_loner():
    """Specimens 0-4: a tight cluster, each with vote share 0.6; 5: a loner with vote share 0.4; 6-8: certain ones
    far away."""
    rng = np.random.default_rng(0)
    centre, loner, far = np.eye(4)[0], np.eye(4)[1], np.eye(4)[2]
    embeddings = np.vstack([centre + 0.05 * rng.normal(size=(5, 4)), loner[None], far + 0.05 * rng.normal(size=(3, 4))])
    share = np.array([0.6] * 5 + [0.4] + [1.0] * 3)
    return embeddings.astype(np.float32), share, np.zeros(9, bool), np.linspace(0.1, 0.2, 9)


def test_a_member_of_an_uncertain_cluster_comes_before_a_more_uncertain_loner():
    embeddings, share, novel, score = _cluster_and_loner()
    order = review_order("benefit", embeddings, share, novel, novelty_score=score, reach=np.full(9, 0.5))
    assert set(order[:5].tolist()) == {0, 1, 2, 3, 4} and order[5] == 5
    assert review_order("uncertainty", embeddings, share, novel, novelty_score=score)[0] == 5


def test_benefit_adds_the_uncertainty_of_the_specimens_it_would_become_the_nearest_reference_of():
    embeddings = np.array([[1, 0], [1, 0.1], [0, 1]], np.float32)  # 0 and 1 close, 2 at distance 1 from both
    own = uncertainty(np.array([0.5, 0.8, 0.0]), np.array([False, False, True]))
    np.testing.assert_allclose(own, [0.5, 0.2, 2.0])
    reach = np.array([0.3, 0.001, 2.0])  # 1 has a reference nearer than 0; 2 is far from every reference
    np.testing.assert_allclose(benefit(embeddings, own, reach, neighbours=2), [0.5 + 2.0, 0.2 + 0.5 + 2.0, 2.0])
    assert benefit(embeddings[:1], own[:1], reach[:1]).tolist() == [0.5]


def test_the_least_certain_and_random_orders():
    novel, share, score = np.array([0, 0, 1, 0], bool), np.array([0.9, 0.5, 0.9, 0.5]), np.array([1, 2, 3, 4.0])
    assert uncertainty_order(novel, share, score).tolist() == [2, 3, 1, 0]
    once, again = (review_order("random", None, share, novel, novelty_score=score, seed=3) for _ in range(2))
    assert sorted(once.tolist()) == [0, 1, 2, 3] and (once == again).all()
    with pytest.raises(ValueError, match="order='typical': one of benefit, uncertainty, random"):
        review_order("typical", None, share, novel, novelty_score=score)

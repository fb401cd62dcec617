"""Novelty scores by hand and against scikit-learn; OSCR."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from forams_lightning.metrics.novelty import novelty_distance, novelty_scores, oscr


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

"""Novelty detection: is a query of a species in the gallery at all? Score = distance to the nearest gallery item."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def novelty_scores(known_scores: np.ndarray, unknown_scores: np.ndarray, known_correct: np.ndarray,
                   keep: float = 0.95) -> dict[str, float]:
    """Known-vs-unknown separation of novelty scores (higher = more novel).

    - auroc: ranking quality of unknown above known queries;
    - oscr: area under the open-set classification rate curve (correct *and* accepted known queries against the
      share of unknown queries accepted, over all thresholds);
    - threshold: the score that keeps `keep` of the known queries; acc_at_keep (closed-set accuracy among the kept
      known queries) and unknown_rejected at that threshold.
    """
    known_scores, unknown_scores = np.asarray(known_scores, float), np.asarray(unknown_scores, float)
    known_correct = np.asarray(known_correct, bool)
    y = np.r_[np.zeros(len(known_scores)), np.ones(len(unknown_scores))]
    auroc = roc_auc_score(y, np.r_[known_scores, unknown_scores])
    threshold = float(np.quantile(known_scores, keep))
    kept = known_scores <= threshold
    return {
        "auroc": float(auroc),
        "oscr": oscr(known_scores, unknown_scores, known_correct),
        "threshold": threshold,
        "acc_at_keep": float(known_correct[kept].mean()) if kept.any() else 0.0,
        "unknown_rejected": float(np.mean(unknown_scores > threshold)),
    }


def oscr(known_scores: np.ndarray, unknown_scores: np.ndarray, known_correct: np.ndarray) -> float:
    """Area under CCR(FPR): accept a query when its score <= t, sweep t over all observed scores."""
    thresholds = np.unique(np.r_[known_scores, unknown_scores, -np.inf])
    ccr = np.searchsorted(np.sort(known_scores[known_correct]), thresholds, side="right") / len(known_scores)
    fpr = np.searchsorted(np.sort(unknown_scores), thresholds, side="right") / len(unknown_scores)
    return float(np.trapezoid(ccr, fpr))

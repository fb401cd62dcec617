"""The census study scores coverage, error, width and false flags."""

from __future__ import annotations

import numpy as np
from helpers import REPO


def test_the_census_measurement_scores_coverage_error_and_flags():
    """experiments/census/scoring.py on a perfect classifier: the intervals hold, no error beyond sampling."""
    import sys
    from types import SimpleNamespace

    sys.path.insert(0, str(REPO / "experiments" / "census"))
    from scoring import flag_rates, score_samples

    species = ["a", "b", "c", "d"]
    library = SimpleNamespace(species=species, confusion=np.eye(4, dtype=int) * 50, confusion_flagged=np.zeros(4))
    truth = np.repeat(np.arange(4), 30)
    specimens = {"truth": truth, "prediction": truth, "novel": np.zeros(len(truth), bool)}
    scores = score_samples(library, specimens, size=40, n_species=3, n_samples=4, seeds=1)
    assert scores["samples"] == 4 and scores["coverage_all_species"]["adjusted"] >= 0.9
    assert scores["mae"]["raw"] < 0.05 and scores["unexplained_share"] < 0.02
    flags = flag_rates(truth, truth == 0, np.array([40, 20, 5, 5]), species)
    assert flags["by_references"]["refs >= 30"] == 1.0 and flags["above 2x nominal"] == {"a": [40, 1.0]}

"""Identification scores against scikit-learn and by hand."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from forams_lightning.metrics.classification import identification_scores, per_species_table


def test_identification_scores_match_sklearn_on_random_labels():
    rng = np.random.default_rng(3)
    for _ in range(5):
        y_true = rng.integers(0, 12, 100)
        y_pred = np.where(rng.random(100) < 0.6, y_true, rng.integers(0, 15, 100))
        scores = identification_scores(y_true, y_pred, num_classes=20)  # classes 15..19 absent everywhere
        assert scores["knn_acc"] == pytest.approx(accuracy_score(y_true, y_pred))
        assert scores["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"), abs=1e-6)


def test_per_species_table_by_hand():
    table = per_species_table(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), ["a", "b"])
    assert table[0] == {"species": "a", "precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert table[1]["precision"] == pytest.approx(2 / 3) and table[1]["recall"] == 1.0


def test_genus_accuracy_by_hand():
    from forams_lightning.metrics.classification import genus_accuracy, genus_of

    species = ["Globigerinoides ruber", "Globigerinoides_elongatus", "Orbulina universa"]
    assert [genus_of(s) for s in species] == ["Globigerinoides", "Globigerinoides", "Orbulina"]
    # right species, right genus / wrong species right genus / wrong genus / wrong genus
    assert genus_accuracy(np.array([0, 0, 0, 2]), np.array([0, 1, 2, 1]), species) == 0.5

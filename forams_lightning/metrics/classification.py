"""Identification scores from true and predicted species indices. Pure functions."""

from __future__ import annotations

import numpy as np
import torch


def identification_scores(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict[str, float]:
    """Accuracy (micro) and macro F1 over the species present in the queries or the predictions."""
    # imported here (and sklearn below): seconds of import that identify and the live review never need
    from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

    t, p = torch.as_tensor(np.asarray(y_true)), torch.as_tensor(np.asarray(y_pred))
    return {
        "knn_acc": float(multiclass_accuracy(p, t, num_classes=num_classes, average="micro")),
        "macro_f1": float(multiclass_f1_score(p, t, num_classes=num_classes, average="macro")),
    }


def genus_of(species: str) -> str:
    """The genus is the first word of a binomial name ("Globigerinoides ruber", "Globigerinoides_ruber")."""
    return species.replace("_", " ").split()[0] if species.strip() else species


def genus_accuracy(y_true: np.ndarray, y_pred: np.ndarray, species: list[str]) -> float:
    """Share of queries whose predicted species is of the right genus ("wrong species, right genus" is a smaller
    error than a wrong genus)."""
    genus = np.array([genus_of(s) for s in species])
    return float(np.mean(genus[np.asarray(y_true)] == genus[np.asarray(y_pred)]))


def per_species_table(y_true: np.ndarray, y_pred: np.ndarray, species: list[str]) -> list[dict]:
    """Precision, recall, F1 and support of every species with queries or predictions."""
    from sklearn.metrics import precision_recall_fscore_support

    present = sorted(set(np.asarray(y_true).tolist()) | set(np.asarray(y_pred).tolist()))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=present, zero_division=0)
    return [{"species": species[c], "precision": float(pi), "recall": float(ri), "f1": float(fi), "support": int(si)}
            for c, pi, ri, fi, si in zip(present, p, r, f, s)]


def normalised_confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true species, normalised to sum to 1 (rows without queries stay 0)."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=list(range(num_classes)), normalize="true")

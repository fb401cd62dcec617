"""The open-set protocol: cheap validation metrics, chosen groups, the cut calibrated on cross-fitted sets first."""

import numpy as np
import pytest
from helpers import blobs

from forams_lightning.evaluation.calibration import CalibrationSets
from forams_lightning.evaluation.open_set import OpenSetProtocol
from forams_lightning.metrics.clustering import (
    calibrate_threshold,
)


def test_validation_computes_the_cheap_metrics_and_the_groups_can_be_chosen():
    rng = np.random.default_rng(2)
    parts = {"train": blobs(rng, 4), "val": blobs(rng, 4, per=3), "unknown_val": blobs(rng, 5)}
    scores = OpenSetProtocol().score(parts, stage="val", include=("loo", "kmeans"))
    assert set(scores) == {"open_val/loo_1nn_acc", "open_val/loo_1nn_macro_f1", "open_val/k_true",
                           *(f"open_val/kmeans_{k}" for k in ("acc", "macro_f1", "nmi", "ari", "k"))}
    assert OpenSetProtocol().score(parts) is None  # no unseen test species: nothing to score
    full = OpenSetProtocol().score({**parts, "unknown_test": parts.pop("unknown_val"), "test": parts.pop("val")})
    assert {"open/knn_acc", "open/agglo_k", "open/novelty_auroc"} <= set(full)


def test_open_set_cut_is_calibrated_on_the_cross_fitted_sets_first():
    rng = np.random.default_rng(5)
    unknown, val = blobs(rng, n_species=5, per=8, spread=0.05), blobs(rng, n_species=6, per=8, spread=0.05)
    loose, tight = blobs(rng, n_species=4, per=8, spread=0.2), blobs(rng, n_species=4, per=8, spread=0.1)
    parts = {"unknown_test": unknown, "unknown_val": val}
    protocol = OpenSetProtocol(species_count={"linkage": "average"})
    scores = protocol.score(parts, CalibrationSets((loose, tight)))
    expected = (calibrate_threshold(*loose, linkage="average") + calibrate_threshold(*tight, linkage="average")) / 2
    assert scores["open/agglo_threshold"] == pytest.approx(expected)
    # without cross-fitted sets (a run without them, or embeddings alone): the val species
    assert protocol.score(parts)["open/agglo_threshold"] == pytest.approx(
        calibrate_threshold(*val, linkage="average"))
    # calibration_draws: each set drawn down (whole species, seeded) to the unseen set's image count, cuts averaged
    crowded = blobs(rng, n_species=30, per=8, spread=0.2)
    drawn = OpenSetProtocol(species_count={"linkage": "average", "calibration_draws": 3}, seed=7)
    cut = drawn.score(parts, CalibrationSets((crowded,)))["open/agglo_threshold"]
    expected = np.mean([calibrate_threshold(*crowded, linkage="average", max_items=40, seed=7 + d) for d in range(3)])
    assert cut == pytest.approx(expected) and cut != pytest.approx(calibrate_threshold(*crowded, linkage="average"))

"""Counting unseen species: the calibrated cut, draws of a share, matched sizes."""

import numpy as np
from helpers import blobs

from forams_lightning.evaluation.calibration import CalibrationSets
from forams_lightning.evaluation.open_set import OpenSetProtocol
from forams_lightning.evaluation.species_count import UNSEEN_DRAWS
from forams_lightning.metrics.clustering import (
    agglomerative,
    drawn_count,
)


def test_match_sizes_counts_the_unseen_species_on_draws_where_the_data_has_no_val_species(caplog):
    rng = np.random.default_rng(9)
    unseen, crossfit = blobs(rng, n_species=5, per=10), tuple(blobs(rng, n_species=6, per=7) for _ in range(2))
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
    for scored in (matched.score({"unknown_test": unseen, "unknown_val": blobs(rng)}, CalibrationSets(crossfit, 0.7)),
                   plain.score({"unknown_test": unseen}, CalibrationSets(crossfit, 0.7)),
                   matched.score({"unknown_test": unseen}, CalibrationSets(crossfit))):
        assert "open/agglo_share" not in scored and scored["open/agglo_k"] == 5
    assert "match_sizes without the calibration sets' share" in caplog.text

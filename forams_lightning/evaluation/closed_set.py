"""The closed-set protocol: known-species queries identified by a k-NN vote against the training gallery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forams_lightning.evaluation.parts import Parts
from forams_lightning.metrics.classification import genus_accuracy, identification_scores
from forams_lightning.metrics.knn import Identification, knn_identify
from forams_lightning.metrics.vectors import check_metric


@dataclass(frozen=True)
class ClosedSetProtocol:
    """The queries of `stage` (``val`` or ``test``) against the ``train`` gallery: a `k`-NN majority vote in
    `metric` distances (ties go to the tied species whose member is nearest). Scores, under ``<stage>/``:
    ``knn_acc``, ``macro_f1``, ``precision_at_1`` (the nearest reference's species) and ``genus_acc`` (the
    predicted species of the right genus)."""

    k: int = 5
    metric: str = "cosine"

    def __post_init__(self) -> None:
        check_metric(self.metric, "closed-set metric")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"closed-set k must be a whole number >= 1 (got {self.k!r})")

    def identify(self, parts: Parts, stage: str) -> Identification | None:
        """The vote and the neighbours of every query; None where the gallery or the queries are missing."""
        if "train" not in parts or stage not in parts:
            return None
        (gallery, gallery_labels), (queries, _) = parts["train"], parts[stage]
        return knn_identify(gallery, gallery_labels, queries, self.k, metric=self.metric)

    def score(self, parts: Parts, stage: str, species: Sequence[str],
              found: Identification | None = None) -> dict[str, float] | None:
        """The scores of `stage` (`found`: its `identify`, where already computed); `species` names every species
        index (for genera and the number of classes).

        Args:
            parts: ``{part name: (embeddings, labels)}``: the gallery (``train``) and the queries of `stage`.
            stage: ``val`` or ``test`` (the metrics' prefix).
            species: the name of every species index.
            found: the queries' identification, where already computed.
        """
        found = self.identify(parts, stage) if found is None else found
        if found is None:
            return None
        truth = parts[stage][1]
        scores = identification_scores(truth, found.prediction, len(species))
        scores["precision_at_1"] = float(np.mean(found.labels[:, 0] == truth))
        scores["genus_acc"] = genus_accuracy(truth, found.prediction, list(species))
        return {f"{stage}/{k}": v for k, v in scores.items()}

"""Labelled species that the embedding was not fitted on, to calibrate the open-set clustering cut with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CalibrationSets:
    """`sets`: (embeddings, species indices) pairs, each a group of known species embedded by a whitening fitted
    without them (`models.whitening.cross_fitted_embeddings`): they spread as unseen species do. `share`: the share
    of their species' images the sets hold (the training split's share; the rest are those species' val and test
    images), so unseen species can be counted at the same share (`SpeciesCount.match_sizes`); None where unknown."""

    sets: tuple[tuple[np.ndarray, np.ndarray], ...] = ()
    share: float | None = None

    def state(self) -> dict:
        """As a checkpoint keeps it: tensors and plain values, so it loads with ``weights_only=True``."""
        import torch

        return {"calibration_sets": [(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y)))
                                     for x, y in self.sets], "calibration_share": self.share}

    @classmethod
    def from_state(cls, state: dict | None) -> CalibrationSets | None:
        """The inverse of `state` (None where the state holds no sets)."""
        sets = (state or {}).get("calibration_sets")
        if not sets:
            return None
        return cls(tuple((np.asarray(x), np.asarray(y)) for x, y in sets), (state or {}).get("calibration_share"))

    @classmethod
    def from_checkpoint(cls, checkpoint: dict) -> CalibrationSets | None:
        """The sets a training checkpoint keeps (`MetricLearningModule.calibration`; checkpoints written before the
        model kept them hold them in the whitening callback's state)."""
        legacy = next((s for s in (checkpoint.get("callbacks") or {}).values()
                       if isinstance(s, dict) and s.get("calibration_sets")), None)
        return cls.from_state(checkpoint.get("calibration") or legacy)


def image_share(labels: np.ndarray, all_labels: np.ndarray) -> float:
    """The share of their species' images (among `all_labels`, every image of the data) that images of `labels`
    are."""
    labels = np.asarray(labels)
    return len(labels) / int(np.isin(np.asarray(all_labels), np.unique(labels)).sum())

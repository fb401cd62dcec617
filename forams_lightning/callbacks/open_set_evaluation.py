"""Open-set evaluation: the adapter that runs `evaluation.open_set.OpenSetProtocol` on the collected embeddings of
species never seen in training (cheap metrics at validation, all at test) and logs its scores."""

from __future__ import annotations

from forams_lightning.callbacks.embeddings import EmbeddingCollector
from forams_lightning.evaluation.open_set import CHEAP, GROUPS, OpenSetProtocol


class OpenSetEvaluation(EmbeddingCollector):
    """Logs `open/*` at test (the ``unknown_test`` species) and `open_val/*` at validation (``unknown_val``, where
    the data has them: leave-one-out and k-means only, every epoch). The clustering cut is calibrated on the model's
    `calibration` (the whitening's cross-fitted species, kept in the checkpoint) where it has one. Does nothing
    where the data withholds no species."""

    def __init__(self, protocol: OpenSetProtocol | None = None):
        super().__init__()
        self.protocol = protocol or OpenSetProtocol()

    def evaluate(self, trainer, pl_module, stage, parts):
        include = GROUPS if stage == "test" else CHEAP
        return self.protocol.score(parts, getattr(pl_module, "calibration", None), stage, include)

"""EmbeddingEnsemble: several trained embedding networks evaluated as one (a deep ensemble of seeds)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F

from forams_lightning.models.backbones import resolve_layouts


class EmbeddingEnsemble(pl.LightningModule):
    """Concatenates the members' L2-normalised embeddings, scaled by 1/sqrt(members) so the result has unit length:
    every member weighs the same, and squared Euclidean distance is twice (1 - the mean of the members' cosine
    similarities), so l2 and cosine kNN agree. Independently trained models misidentify different specimens, which
    one model's weight average (EMA) does not reproduce (docs/decisions.md).

    Members are modules whose `forward` returns the trained embedding, rotation averaging included (`Embedder`).
    Evaluation only: the eval steps return what the evaluation callbacks collect."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def setup(self, stage: str) -> None:
        resolve_layouts(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        parts = [F.normalize(member(images).float(), dim=1) for member in self.members]
        return torch.cat(parts, 1) / math.sqrt(len(parts))

    def _embed_batch(self, batch) -> dict[str, torch.Tensor]:
        images, labels, index = batch
        return {"embeddings": self(images), "labels": labels, "index": index}

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        return self._embed_batch(batch)

    test_step = predict_step = validation_step

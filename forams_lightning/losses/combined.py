"""The training objective: metric_weight × a metric loss (PML) + ce_weight × cross-entropy on a softmax head."""

from __future__ import annotations

import torch
from torch import nn


class MetricLearningLoss(nn.Module):
    """`metric` is any PML loss (or None); `ce_weight` > 0 needs the model's softmax head. The paper's recipe is
    cross-entropy + 0.01 × reciprocal triplet loss: ``metric_weight=0.01, ce_weight=1``."""

    def __init__(self, metric: nn.Module | None = None, metric_weight: float = 1.0, ce_weight: float = 0.0):
        super().__init__()
        if metric is None and ce_weight <= 0:
            raise ValueError("loss: set loss.metric or a positive loss.ce_weight; there is nothing to optimise")
        self.metric, self.metric_weight, self.ce_weight = metric, metric_weight, ce_weight
        self.cross_entropy = nn.CrossEntropyLoss()

    def forward(self, embeddings, labels, indices_tuple=None, logits=None, metric: nn.Module | None = None
                ) -> dict[str, torch.Tensor]:
        """`metric`: a stand-in for `self.metric` wrapping it (PML's DistributedLossWrapper under DDP)."""
        parts = {}
        total = embeddings.new_zeros(())
        if self.metric is not None:
            parts["metric"] = (metric or self.metric)(embeddings, labels, indices_tuple)
            total = total + self.metric_weight * parts["metric"]
        if self.ce_weight > 0:
            parts["ce"] = self.cross_entropy(logits, labels)
            total = total + self.ce_weight * parts["ce"]
        return {"loss": total, **parts}

"""The metric + λ·CE combination."""

import pytest
import torch

from forams_lightning.losses.combined import MetricLearningLoss
from forams_lightning.losses.reciprocal_triplet import ReciprocalTripletLoss


def test_combined_loss_weights_parts():
    emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 0, 1])
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    combined = MetricLearningLoss(ReciprocalTripletLoss(eps=0.0), metric_weight=0.01, ce_weight=1.0)
    out = combined(emb, labels, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])), logits)
    ce = torch.nn.functional.cross_entropy(logits, labels)
    assert out["metric"].item() == pytest.approx(1.25)
    assert out["loss"].item() == pytest.approx(ce.item() + 0.0125)


def test_combined_loss_refuses_nothing_to_optimise():
    with pytest.raises(ValueError, match="nothing to optimise"):
        MetricLearningLoss(None, ce_weight=0.0)

"""The reciprocal triplet loss against hand-computed values."""

import pytest
import torch

from forams_lightning.losses.reciprocal_triplet import ReciprocalTripletLoss


def test_rtl_matches_hand_computed_value():
    # a=(0,0), p=(1,0), n=(0,2): d(a,p)=1, d(a,n)=4 -> 1 + 1/4 = 1.25 for the one triplet
    emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 0, 1])
    loss = ReciprocalTripletLoss(eps=0.0)
    triplet = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    assert loss(emb, labels, triplet).item() == pytest.approx(1.25)


def test_rtl_averages_over_triplets_and_converts_pairs():
    emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # triplets (0,1,2): 1 + 1/4 ; (0,1,3): 1 + 1/9
    pairs = (torch.tensor([0]), torch.tensor([1]), torch.tensor([0, 0]), torch.tensor([2, 3]))
    expected = ((1 + 1 / 4) + (1 + 1 / 9)) / 2
    assert ReciprocalTripletLoss(eps=0.0)(emb, labels, pairs).item() == pytest.approx(expected)


def test_rtl_gradient_pulls_positive_and_pushes_negative():
    emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], requires_grad=True)
    triplet = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    ReciprocalTripletLoss()(emb, torch.tensor([0, 0, 1]), triplet).backward()
    # d/dp of |a-p|^2 = 2(p-a) = (2, 0); d/dn of 1/|a-n|^2 = -2(n-a)/|a-n|^4 = (0, -4/16)
    assert torch.allclose(emb.grad[1], torch.tensor([2.0, 0.0]))
    assert torch.allclose(emb.grad[2], torch.tensor([0.0, -0.25]), atol=1e-6)

"""An ensemble concatenates unit member embeddings."""

import torch
from torch import nn


class _Constant(nn.Module):
    def __init__(self, vector):
        super().__init__()
        self.vector = torch.tensor(vector)

    def forward(self, images):
        return self.vector.expand(len(images), -1)


def test_ensemble_concatenates_unit_member_embeddings_by_hand():
    from forams_lightning.models.ensemble import EmbeddingEnsemble

    ensemble = EmbeddingEnsemble([_Constant([3.0, 4.0]), _Constant([0.0, 0.0, 2.0])])
    out = ensemble(torch.zeros(2, 3, 8, 8))
    expected = torch.tensor([0.6, 0.8, 0.0, 0.0, 1.0]) / 2**0.5
    assert torch.allclose(out, expected.expand(2, -1))
    step = ensemble.test_step((torch.zeros(2, 3, 8, 8), torch.tensor([1, 0]), torch.tensor([5, 6])), 0)
    assert torch.equal(step["labels"], torch.tensor([1, 0])) and torch.equal(step["index"], torch.tensor([5, 6]))

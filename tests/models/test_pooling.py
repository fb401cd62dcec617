"""GeM pooling by hand; replacing a network's pooling keeps its feature size."""

import pytest
import torch

from forams_lightning.models.backbones import Backbone
from forams_lightning.models.pooling import GeM


def test_gem_by_hand():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = ((1 + 8 + 27 + 64) / 4) ** (1 / 3)
    assert GeM(p=3)(x).item() == pytest.approx(expected, rel=1e-5)
    assert GeM(p=1)(x).item() == pytest.approx(2.5)


@pytest.mark.parametrize("name", ["resnet18", "mobilenetv3_small_050"])
def test_pool_replacement_keeps_feature_size(name):
    default = Backbone(name, pretrained=False)
    gem = Backbone(name, pretrained=False, pool="gem")
    assert gem.num_features == default.num_features
    assert gem(torch.rand(2, 3, 64, 64)).shape == (2, default.num_features)

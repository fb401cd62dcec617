"""The feature memo serves remembered images and computes only the others, keyed on exact pixels."""

import torch

from forams_lightning.models.feature_memo import FeatureMemo


class CountingBackbone(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear, self.rows = torch.nn.Linear(12, 5), 0

    def forward(self, x):
        self.rows += len(x)
        return self.linear(x.flatten(1))


def test_memo_serves_remembered_images_and_computes_only_the_others():
    backbone, memo = CountingBackbone(), FeatureMemo()
    x = torch.rand(6, 3, 2, 2)
    with torch.no_grad():
        expected = backbone(x)
        memo.remember(x[:4], expected[:4] + 1.0)  # marked, to see where each row came from
        backbone.rows = 0
        out = memo(backbone, x[[5, 0, 4, 3]])
    assert backbone.rows == 2 and len(memo) == 4  # rows 5 and 4 computed, and not remembered
    torch.testing.assert_close(out, torch.stack([expected[5], expected[0] + 1, expected[4], expected[3] + 1]))


def test_memo_keys_on_exact_pixels():
    memo, x = FeatureMemo(), torch.rand(2, 3, 4, 4)
    memo.remember(x, torch.zeros(2, 5))
    backbone = CountingBackbone()
    backbone.linear = torch.nn.Linear(48, 5)
    turned = torch.rot90(x, 1, (2, 3))  # a non-contiguous view with other pixels at each position
    with torch.no_grad():
        memo(backbone, turned)
        assert backbone.rows == 2
        memo(backbone, x.clone())
    assert backbone.rows == 2

"""The LightningModule: quarter-turn averaging, frozen parts, the freeze mode."""

import functools

import pytest
import torch
from helpers import tiny_module
from torch import nn

from forams_lightning.losses.combined import MetricLearningLoss
from forams_lightning.models.backbones import Backbone
from forams_lightning.models.heads import EmbeddingHead
from forams_lightning.models.module import MetricLearningModule


def test_tta_over_four_quarter_turns_is_rotation_invariant():
    module = tiny_module(tta_rotations=4).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        a = module._embed_batch((x, torch.zeros(2), torch.arange(2)))["embeddings"]
        b = module._embed_batch((torch.rot90(x, 1, (2, 3)), torch.zeros(2), torch.arange(2)))["embeddings"]
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("freeze", ["batchnorm", "backbone"])
def test_frozen_parts_do_not_change_in_training(freeze):
    module = tiny_module(freeze=freeze)
    bn = module.backbone.net.bn1
    before = (bn.running_mean.clone(), bn.weight.clone(), module.backbone.net.conv1.weight.clone())
    module.train()
    module.on_train_epoch_start()
    optimizer = module.configure_optimizers()
    images, labels = torch.rand(4, 3, 32, 32), torch.tensor([0, 0, 1, 2])
    emb, trunk = module.head(module.backbone(images))
    nn.functional.cross_entropy(module.classifier(trunk), labels).backward()
    optimizer.step()
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.weight, before[1])
    conv_changed = not torch.equal(module.backbone.net.conv1.weight, before[2])
    assert conv_changed == (freeze == "batchnorm")


@pytest.mark.parametrize("pretrained", [True, False])
def test_freeze_auto_keeps_pretrained_batchnorm_only(pretrained):
    module = MetricLearningModule(
        backbone=Backbone("efficientnet_lite0", pretrained=pretrained),
        head=functools.partial(EmbeddingHead, embedding_dim=8, normalize=True),
        loss=MetricLearningLoss(None, ce_weight=1.0), optimizer=functools.partial(torch.optim.SGD, lr=0.1),
        num_classes=3)
    assert module.freeze_mode == ("batchnorm" if pretrained else "none")
    assert module.backbone.net.bn1.weight.requires_grad is not pretrained

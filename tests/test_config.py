"""The composed configs say what the README promises."""

import pytest
from hydra.utils import instantiate

from forams_lightning.models.backbones import Backbone


def test_closed_set_is_the_paper_recipe(make_cfg):
    cfg = make_cfg("+experiment=closed_set")
    assert cfg.model.backbone.name == "resnet50" and cfg.model.head.hidden_dim == 1000
    assert cfg.model.head.embedding_dim == 128 and cfg.model.head.normalize is False
    assert cfg.loss.metric._target_.endswith("ReciprocalTripletLoss")
    assert cfg.loss.metric_weight == 0.01 and cfg.loss.ce_weight == 1.0
    assert cfg.miner.neg_strategy == "hard" and cfg.miner.pos_strategy == "all"
    assert cfg.optimizer._target_ == "torch.optim.SGD"
    assert cfg.optimizer.lr == 1e-3 and cfg.optimizer.weight_decay == 1e-4
    assert cfg.scheduler is None
    assert cfg.callbacks.knn_evaluation.k == 5 and cfg.callbacks.knn_evaluation.metric == "l2"
    assert cfg.callbacks.model_checkpoint.monitor == "val/knn_acc"


@pytest.mark.parametrize("data,size", [("synthetic", 64), ("endless_forams", 224), ("folders", 224)])
def test_image_size_belongs_to_the_data_preset(make_cfg, data, size):
    assert make_cfg(f"data={data}", "+experiment=closed_set").data.image_size == size


def test_offline_efficientnet_loads_imagenet_weights():
    net = Backbone("efficientnet_lite0", pretrained=True)
    random = Backbone("efficientnet_lite0", pretrained=False)
    w, r = net.net.conv_stem.weight, random.net.conv_stem.weight
    assert net.num_features == 1280 and not (w == r).all()
    assert net.mean.flatten().tolist() == [0.5, 0.5, 0.5]


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

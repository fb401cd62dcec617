"""The composed configs say what the README promises."""

import pytest
from hydra.utils import instantiate


@pytest.mark.parametrize("experiment", ["paper_closed_set", "paper_open_set"])
def test_paper_experiments_are_the_paper_recipe(make_cfg, experiment):
    cfg = make_cfg(f"+experiment={experiment}")
    assert cfg.model.backbone.name == "resnet50" and cfg.model.backbone.pretrained is True
    assert cfg.model.head.hidden_dim == 1000 and cfg.model.freeze == "none"
    assert cfg.model.head.embedding_dim == 128 and cfg.model.head.normalize is False
    assert cfg.loss.metric._target_.endswith("ReciprocalTripletLoss")
    assert cfg.loss.metric_weight == 0.01 and cfg.loss.ce_weight == 1.0
    assert cfg.miner.neg_strategy == "hard" and cfg.miner.pos_strategy == "all"
    assert cfg.optimizer._target_ == "torch.optim.SGD"
    assert cfg.optimizer.lr == 1e-3 and cfg.optimizer.weight_decay == 1e-4 and cfg.optimizer.momentum == 0
    assert cfg.scheduler is None
    assert cfg.callbacks.knn_evaluation.protocol.k == 5 and cfg.callbacks.knn_evaluation.protocol.metric == "l2"
    assert cfg.callbacks.model_checkpoint.monitor == "val/knn_acc"


@pytest.mark.parametrize("overrides", [[], ["+experiment=closed_set"]])
def test_default_and_closed_set_start_from_offline_imagenet_weights(make_cfg, overrides):
    cfg = make_cfg(*overrides)
    assert cfg.model.backbone.name == "efficientnet_lite0" and cfg.model.backbone.pretrained is True
    assert cfg.model.freeze == "auto" and cfg.optimizer._target_ == "torch.optim.AdamW"
    assert cfg.callbacks.knn_evaluation.protocol.k == 5 and cfg.callbacks.knn_evaluation.protocol.metric == "cosine"
    assert cfg.callbacks.model_checkpoint.monitor == "val/knn_acc"


def test_open_set_is_the_whitened_feature_ensemble(make_cfg):
    cfg = make_cfg("+experiment=open_set")
    assert list(cfg.model.backbone.name) == ["efficientnet_lite0", "efficientnet_lite1"]
    assert cfg.model.backbone.pretrained is True and list(cfg.model.backbone.layers) == [3, 4]
    assert list(cfg.model.backbone.input_scale) == [1.0, 240 / 224]  # each network at its pretraining size
    assert cfg.model.freeze == "backbone" and cfg.model.tta_rotations == 4 and cfg.trainer.max_epochs == 0
    assert cfg.model.head.embedding_dim == 256 and cfg.callbacks.whitening.rotations == 4
    assert cfg.callbacks.whitening.shrinkage == 0.5
    protocol = instantiate(cfg.callbacks.open_set_evaluation.protocol)
    assert protocol.reranking.expansion_k == 3 and protocol.species_count.linkage == "average"
    assert cfg.callbacks.whitening.calibration_folds == 2  # the cut calibrated on species the whitening never saw
    assert protocol.species_count.calibration_draws == 5 and protocol.reranking.csls_k == 20
    assert protocol.species_count.match_sizes and (protocol.novelty.neighbours, protocol.novelty.scale_k) == (2, 3)
    assert cfg.data.open_set.folds == 5


def test_paper_recipe_offline_stops_within_seconds_naming_the_weights_file(tmp_path, cache_dir):
    import os
    import subprocess
    import sys
    import time

    env = {**os.environ, "FORAMS_OFFLINE": "1", "FORAMS_CACHE": str(cache_dir), "TORCH_HOME": str(tmp_path / "t")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "forams_lightning.train", "+experiment=paper_closed_set",
                           "data=synthetic_tiny", "logger=none", f"hydra.run.dir={tmp_path / 'run'}"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and time.perf_counter() - start < 30
    assert "resnet50-" in done.stderr and ".pth" in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "resnet50-" in (tmp_path / "run" / "train.log").read_text()

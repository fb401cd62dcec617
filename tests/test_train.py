"""End-to-end runs of the composed config on the tiny synthetic library."""

import json
from pathlib import Path

import pytest
from omegaconf import open_dict

from forams_lightning.train import train

EXPERIMENTS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "conf" / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_runs_fast_dev_run(make_cfg, experiment, tmp_path):
    cfg = make_cfg(f"+experiment={experiment}", "+trainer.fast_dev_run=true")
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.0 <= metrics["test/knn_acc"] <= 1.0


def test_two_epoch_run_writes_sane_metrics_and_reports(make_cfg, tmp_path):
    cfg = make_cfg("trainer.max_epochs=2", "logger=csv", "trainer.log_every_n_steps=1")
    best = train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("test/knn_acc", "test/macro_f1", "test/precision_at_1", "val/knn_acc"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["test/knn_acc"] > 1 / 6  # above chance on 6 species
    assert best == metrics["val/knn_acc_best"]
    assert metrics["epochs"] == 2 and metrics["split"]["n_test"] > 0
    assert Path(metrics["best_checkpoint"]).is_file()
    per_species = (tmp_path / "test_per_species.csv").read_text().splitlines()
    assert per_species[0] == "species,precision,recall,f1,support" and len(per_species) > 2
    assert (tmp_path / "test_confusion_matrix.csv").is_file()
    assert (tmp_path / "split.csv").read_text().startswith("path,species,split")
    logged = (tmp_path / "csv" / "version_0" / "metrics.csv").read_text()
    assert "val/knn_acc" in logged and "train/loss_step" in logged


def test_saved_split_is_reused(make_cfg, tmp_path):
    cfg = make_cfg("+trainer.fast_dev_run=true")
    train(cfg)
    saved = tmp_path / "split.csv"
    first = saved.read_text()
    cfg = make_cfg("+trainer.fast_dev_run=true", f"data.split_file={saved}", "data.split.seed=99")
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "second")
    train(cfg)
    assert (tmp_path / "second" / "split.csv").read_text() == first


def test_wandb_logger_runs_offline_without_account(make_cfg, tmp_path, monkeypatch):
    for var in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc login
    cfg = make_cfg("logger=wandb", "trainer.max_epochs=1", "+trainer.limit_train_batches=2")
    train(cfg)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1

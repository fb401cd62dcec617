"""End-to-end runs of the composed config on the tiny synthetic library."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import compose_app
from omegaconf import open_dict

from forams_lightning.train import train

EXPERIMENTS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "conf" / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_runs_fast_dev_run(make_cfg, experiment, tmp_path):
    # The paper's ResNet-50 weights cannot be downloaded here (their absence is tested in test_config.py).
    offline = ["model.backbone.pretrained=false"] if experiment.startswith("paper_") else []
    cfg = make_cfg(f"+experiment={experiment}", "+trainer.fast_dev_run=true", *offline)
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.0 <= metrics["test/knn_acc"] <= 1.0


def test_two_epoch_run_writes_sane_metrics_and_reports(make_cfg, tmp_path):
    cfg = make_cfg("trainer.max_epochs=2", "logger=csv", "trainer.log_every_n_steps=1")
    best = train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("test/knn_acc", "test/macro_f1", "test/precision_at_1", "test/genus_acc", "val/knn_acc"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["test/knn_acc"] > 1 / 6  # above chance on 6 species
    assert best == metrics["val/knn_acc_best"]
    assert metrics["epochs"] == 2 and metrics["split"]["n_test"] > 0
    assert (tmp_path / metrics["best_checkpoint"]).is_file()
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["fit_seconds"] > 0 and run["versions"]["torch"] and "git_commit" in run
    assert (tmp_path / "config.yaml").read_text().count("${") == 0  # resolved
    per_species = (tmp_path / "test_per_species.csv").read_text().splitlines()
    assert per_species[0] == "species,precision,recall,f1,support" and len(per_species) > 2
    assert (tmp_path / "test_confusion_matrix.csv").is_file()
    assert metrics["test/genus_acc"] >= metrics["test/knn_acc"]  # a right species is a right genus
    for png in ("test_confusion_matrix", "test_per_species", "test_worst_queries", "morphospace_tsne"):
        assert (tmp_path / f"{png}.png").read_bytes()[:4] == b"\x89PNG", png
    assert "plotly" in (tmp_path / "morphospace_tsne.html").read_text()
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


def test_wandb_logger_runs_offline_without_account(make_cfg, tmp_path, monkeypatch, capfd):
    for var in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc login
    cfg = make_cfg("logger=wandb", "trainer.max_epochs=1", "+trainer.limit_train_batches=2")
    train(cfg)
    assert "anonymous setting" not in capfd.readouterr().err
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    media = [str(p.relative_to(runs[0])) for p in runs[0].rglob("media/*/morphospace/*")]
    assert any(m.endswith(".png") for m in media) and any(m.endswith(".table.json") for m in media), media
    reports = {p.name.rsplit("_", 2)[0] for p in runs[0].rglob("media/images/test/*.png")}  # <key>_<step>_<hash>
    assert {"confusion_matrix", "per_species", "worst_queries"} <= reports, reports


def test_open_set_run_reports_withheld_species(make_cfg, tmp_path, caplog):
    cfg = make_cfg("+experiment=open_set", "data.open_set.folds=3", "data.open_set.fold=1",
                   "callbacks.progress_log.every_s=0")
    with caplog.at_level("INFO"):
        train(cfg)
    # a run with no training epochs is one long evaluation: it still reports progress (stdout is not a terminal here)
    assert any(m.startswith("whitening: train images: ") for m in caplog.messages)
    assert any(re.fullmatch(r"test: \d+/\d+ batches \| left ~\d+m\d\ds", m) for m in caplog.messages)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("open/loo_1nn_acc", "open/knn_acc", "open/kmeans_nmi", "open/agglo_k", "open/novelty_auroc",
                "open/novelty_oscr", "open/k_true"):
        assert key in metrics, key
    assert metrics["open/k_true"] == len(metrics["split"]["unknown_species"]) == 2
    assert 0 <= metrics["open/novelty_auroc"] <= 1
    # every test part's embeddings are kept: the metrics can be recomputed without embedding an image again
    saved = np.load(tmp_path / "test_embeddings.npz")
    unknown = saved["unknown_test_embeddings"]
    assert unknown.shape[1] == 256
    assert len(unknown) == len(saved["unknown_test_labels"]) == len(saved["unknown_test_files"])
    assert {saved["species"][i] for i in saved["unknown_test_labels"]} == set(metrics["split"]["unknown_species"])
    # with the whitening's cross-fitted calibration sets (the clustering cut), which the rescoring below reads too
    crossfit = np.concatenate([saved["crossfit0_labels"], saved["crossfit1_labels"]])
    assert sorted(crossfit) == sorted(saved["train_labels"])
    # no val species here: the species are counted on draws of the unseen images at the calibration sets' share
    share = metrics["open/agglo_share"]
    assert share == pytest.approx(float(saved["crossfit_share"])) and 0.5 < share < 1

    # ... and rescore.py recomputes them from those arrays: the same settings give the same numbers, --write swaps
    # in those of other settings and records the rescoring
    import importlib.util

    path = Path(__file__).parents[1] / "experiments" / "open_set_radiolaria" / "rescore.py"
    spec = importlib.util.spec_from_file_location("rescore", path)
    rescore = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rescore)
    again = rescore.rescore(tmp_path, [])
    assert again == pytest.approx({k: metrics[k] for k in again}, abs=1e-6)
    # embeddings saved before the calibration sets' share was: it is counted in the run's data
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    shutil.copy(tmp_path / "config.yaml", legacy)
    np.savez(legacy / "test_embeddings.npz", **{k: saved[k] for k in saved.files if k != "crossfit_share"})
    assert rescore.rescore(legacy, []) == pytest.approx(again, abs=1e-6)
    rescore.write(tmp_path, ["novelty.neighbours=1", "novelty.scale_k=0"],
                  rescore.rescore(tmp_path, ["novelty.neighbours=1", "novelty.scale_k=0"]))
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["rescored"]["settings"] == ["novelty.neighbours=1", "novelty.scale_k=0"]
    assert written["open/novelty_auroc"] != metrics["open/novelty_auroc"] and written["split"] == metrics["split"]

    # an evaluation from the checkpoint gets the cross-fitted sets back with it: the same cut, the same numbers
    from forams_lightning.eval import evaluate

    ckpt = tmp_path / metrics["best_checkpoint"]
    again = evaluate(compose_app("eval", [f"ckpt={ckpt}", "num_workers=0"], tmp_path / "eval"))
    opened = {k: v for k, v in again.items() if k.startswith("open/")}
    assert opened["open/agglo_threshold"] == pytest.approx(metrics["open/agglo_threshold"], abs=1e-6)
    assert opened == pytest.approx({k: metrics[k] for k in opened}, abs=1e-6)
    assert set(opened) == {k for k in metrics if k.startswith("open/")}  # the share came back too: agglo_share


def test_frozen_features_are_scored_without_an_optimiser(make_cfg, tmp_path):
    """The frozen-feature baseline (nothing trainable): scored with 0 epochs; asked to train, it says why it cannot."""
    frozen = ["+experiment=open_set", "model.backbone.name=efficientnet_lite0", "model.backbone.input_scale=1.0",
              "model.backbone.layers=null",
              "model.head.embedding_dim=null", "model.tta_rotations=1", "callbacks=default",
              "callbacks.open_set_evaluation.protocol.reranking.expansion_k=0", "data.open_set.folds=3"]
    train(make_cfg(*frozen))
    assert "open/loo_1nn_acc" in json.loads((tmp_path / "metrics.json").read_text())
    with pytest.raises(ValueError, match="nothing to train"):
        train(make_cfg(*frozen, "trainer.max_epochs=1"))


def test_fold_multirun_writes_summary_table(tmp_path, cache_dir):
    import subprocess
    import sys

    # the recipe at its cheapest (one network, one view): the sweep and its table are what is tested here
    cmd = [sys.executable, "-m", "forams_lightning.train", "-m", "+experiment=open_set", "data=synthetic_tiny",
           "data.open_set.folds=3", "data.open_set.fold=0,1", "logger=none", "model.backbone.name=efficientnet_lite0",
           "model.backbone.input_scale=1.0", "model.tta_rotations=1", "callbacks.whitening.rotations=1",
           "trainer=cpu", "+trainer.fast_dev_run=true", "callbacks.rich_progress_bar=null",
           f"paths.cache_dir={cache_dir}", f"hydra.sweep.dir={tmp_path}"]
    subprocess.run(cmd, check=True, capture_output=True, env={**__import__("os").environ, "FORAMS_OFFLINE": "1"})
    table = (tmp_path / "summary.md").read_text().splitlines()
    assert "open/loo_1nn_acc" in table[0]
    assert table[2].startswith("| +experiment=open_set") and "data.open_set.fold=0" in table[2]
    assert table[-1].startswith("| **mean ± std** (n=2)")


def test_identical_reruns_write_identical_metrics(make_cfg, tmp_path):
    texts = []
    for name in ("a", "b"):
        cfg = make_cfg("trainer.max_epochs=2", "+trainer.limit_train_batches=3")
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / name)
        train(cfg)
        texts.append((tmp_path / name / "metrics.json").read_text())
    assert texts[0] == texts[1]
    assert json.loads(texts[0])["epochs"] == 2


def test_killed_run_resumes_from_last_checkpoint_to_identical_metrics(tmp_path, cache_dir):
    """SIGKILL mid-epoch 2, rerun with ckpt_path=last in the same folder: same metrics.json as an uninterrupted run."""
    import os
    import subprocess
    import sys

    tests = Path(__file__).resolve().parent
    env = {**os.environ, "FORAMS_CACHE": str(cache_dir), "FORAMS_OFFLINE": "1", "PYTHONPATH": str(tests)}
    common = ["data=synthetic_tiny", "logger=none", "trainer=cpu", "trainer.max_epochs=3", "data.num_workers=0",
              "callbacks.rich_progress_bar=null", "callbacks.morphospace=null", "+trainer.enable_progress_bar=false"]

    def run(folder, *extra):
        return subprocess.run([sys.executable, "-m", "forams_lightning.train", *common, f"hydra.run.dir={folder}",
                               *extra], env=env, capture_output=True, text=True, timeout=600)

    killed = run(tmp_path / "resumed", "+callbacks.kill._target_=helpers.KillAt", "+callbacks.kill.epoch=2",
                 "+callbacks.kill.batch=1")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    resumed = run(tmp_path / "resumed", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    whole = run(tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert (tmp_path / "resumed" / "metrics.json").read_text() == (tmp_path / "whole" / "metrics.json").read_text()
    # stdout is a pipe here, as under nohup or SLURM: one progress line per epoch there and in train.log, and none
    # of the stack's noise.
    for text in (whole.stdout, (tmp_path / "whole" / "train.log").read_text()):
        lines = [line for line in text.splitlines() if "| train/loss_epoch=" in line]
        assert [line.split(" - ", 1)[1].split(" |")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
        assert "val/knn_acc=" in lines[-1] and "elapsed " in lines[-1] and "left ~0m00s" in lines[-1]
    for noise in ("litlogger", "LeafSpec", "faiss.loader"):
        assert noise not in whole.stdout + whole.stderr, noise

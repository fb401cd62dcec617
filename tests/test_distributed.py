"""DDP: two CPU processes (gloo) score a checkpoint exactly as one process does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from forams_lightning.train import train


def test_ddp_evaluation_equals_single_process(make_cfg, tmp_path, cache_dir):
    cfg = make_cfg("+experiment=open_set", "data.open_set.folds=3",
                   "trainer.max_epochs=1", "+trainer.limit_train_batches=2", "callbacks.morphospace=null")
    train(cfg)
    ckpt = tmp_path / json.loads((tmp_path / "metrics.json").read_text())["best_checkpoint"]
    env = {**os.environ, "FORAMS_OFFLINE": "1", "FORAMS_CACHE": str(cache_dir)}

    def evaluate(folder, *extra):
        done = subprocess.run([sys.executable, "-m", "forams_lightning.eval", f"ckpt={ckpt}", "num_workers=0",
                               "trainer.accelerator=cpu", "+trainer.enable_progress_bar=false",
                               f"hydra.run.dir={tmp_path / folder}", *extra],
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads((tmp_path / folder / "eval_metrics.json").read_text())

    single = evaluate("one")
    double = evaluate("two", "trainer=ddp", "trainer.devices=2", "trainer.precision=32-true")
    assert "MEMBER: 2/2" in (tmp_path / "two" / "train_ddp_process_1.log").read_text()  # the second process ran
    assert "test/knn_acc" in single and "open/loo_1nn_acc" in single and "open/novelty_auroc" in single
    # Scores are exact; distance thresholds move in the 7th digit (a convolution's sums depend on the batch).
    thresholds = {k for k in single if k.endswith("_threshold")}
    assert {k: v for k, v in double.items() if k not in thresholds} == {k: v for k, v in single.items()
                                                                          if k not in thresholds}
    assert all(abs(double[k] - single[k]) < 1e-5 for k in thresholds)


def test_ddp_training_runs_with_one_writer(tmp_path, cache_dir):
    env = {**os.environ, "FORAMS_OFFLINE": "1", "FORAMS_CACHE": str(cache_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "forams_lightning.train", "data=synthetic_tiny", "logger=csv", "trainer=ddp",
         "trainer.accelerator=cpu", "trainer.devices=2", "trainer.precision=32-true", "trainer.max_epochs=1",
         "+trainer.limit_train_batches=2", "data.num_workers=0", "callbacks.rich_progress_bar=null",
         "callbacks.morphospace=null", "+trainer.enable_progress_bar=false", "model.cross_rank_mining=true",
         f"hydra.run.dir={tmp_path}"],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0 <= metrics["test/knn_acc"] <= 1 and metrics["epochs"] == 1
    assert json.loads((tmp_path / "run.json").read_text())["world_size"] == 2
    assert "MEMBER: 2/2" in (tmp_path / "train_ddp_process_1.log").read_text()


def test_distributed_run_with_lightnings_sampler_swap_is_refused():
    from types import SimpleNamespace

    import pytest
    from omegaconf import OmegaConf

    from forams_lightning.runs import check_distributed_sampler

    with pytest.raises(ValueError, match="trainer.use_distributed_sampler=false"):
        check_distributed_sampler(SimpleNamespace(world_size=2), OmegaConf.create({"trainer": {"devices": 2}}))
    off = OmegaConf.create({"trainer": {"use_distributed_sampler": False}})
    check_distributed_sampler(SimpleNamespace(world_size=2), off)
    check_distributed_sampler(SimpleNamespace(world_size=1), OmegaConf.create({"trainer": {}}))  # nothing to swap

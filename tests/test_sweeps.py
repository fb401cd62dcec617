"""Multiruns through Hydra's plugins on the tiny synthetic set: Optuna sweeper and joblib launcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from omegaconf import OmegaConf

TINY = ["data=synthetic_tiny", "logger=none", "trainer=cpu", "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2", "callbacks.rich_progress_bar=null",
        "callbacks.morphospace=null", "+trainer.enable_progress_bar=false"]


def _multirun(tmp_path, cache_dir, *overrides):
    env = {**os.environ, "FORAMS_OFFLINE": "1", "FORAMS_CACHE": str(cache_dir), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "forams_lightning.train", "-m", *TINY, *overrides,
                           f"hydra.sweep.dir={tmp_path}"], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "faiss.loader" not in done.stdout + done.stderr  # silenced in every job's process, not only the main one
    return sorted(tmp_path.glob("*/metrics.json"))


def test_optuna_sweep_runs_trials_and_tabulates_them(tmp_path, cache_dir):
    jobs = _multirun(tmp_path, cache_dir, "data.num_workers=0", "hparams_search=optuna", "hydra.sweeper.n_trials=2",
                     "hydra.sweeper.sampler.n_startup_trials=2")
    assert len(jobs) == 2
    trials = [OmegaConf.to_container(OmegaConf.load(j.parent / ".hydra" / "overrides.yaml")) for j in jobs]
    assert all(any(o.startswith("optimizer.lr=") for o in t) for t in trials) and trials[0] != trials[1]
    assert all("val/knn_acc" in json.loads(j.read_text()) for j in jobs)
    best = OmegaConf.to_container(OmegaConf.load(tmp_path / "optimization_results.yaml"))
    assert best["name"] == "optuna" and 0 <= best["best_value"] <= 1
    table = (tmp_path / "summary.md").read_text().splitlines()
    assert len(table) == 2 + 2 + 1 and "optimizer.lr=" in table[2]


def test_joblib_launcher_runs_jobs_in_parallel_processes(tmp_path, cache_dir):
    # With loader workers: joblib's loky processes make 'loky' the default start method (workers must then pickle).
    jobs = _multirun(tmp_path, cache_dir, "hydra/launcher=parallel", "seed=0,1", "logger=wandb", "data.num_workers=2")
    assert [json.loads(j.read_text())["seed"] for j in jobs] == [0, 1]
    for job in jobs:  # offline wandb runs of one sweep share a group named after the sweep folder
        run = next(job.parent.glob("wandb/offline-run-*/run-*.wandb")).read_bytes()
        assert f"train-{tmp_path.name}".encode() in run and f"train#{job.parent.name}".encode() in run
    assert (tmp_path / "summary.md").read_text().splitlines()[-1].startswith("| **mean ± std** (n=2)")


def test_optuna_study_in_sqlite_resumes(tmp_path, cache_dir):
    """A persistent study: 2 trials into an SQLite file, then the same study resumed with 1 more finds 3."""
    import optuna

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    common = ["data.num_workers=0", "hparams_search=optuna", "hydra.sweeper.sampler.n_startup_trials=2",
              f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=resumable"]
    _multirun(tmp_path / "first", cache_dir, *common, "hydra.sweeper.n_trials=2")
    _multirun(tmp_path / "second", cache_dir, *common, "hydra.sweeper.n_trials=1")
    trials = optuna.load_study(study_name="resumable", storage=storage).trials
    assert len(trials) == 3 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)

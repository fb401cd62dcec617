"""eval reproduces a run's test metrics exactly, for one model and for an ensemble."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import compose_app


def test_eval_reproduces_the_test_metrics_of_the_run_exactly(trained_run, tmp_path):
    from forams_lightning.eval import evaluate

    run, metrics = trained_run
    again = evaluate(compose_app("eval", [f"ckpt={run / metrics['best_checkpoint']}", "num_workers=0",
                                          "trainer.accelerator=cpu"], tmp_path))
    assert again and {k: metrics[k] for k in again} == again
    assert json.loads((tmp_path / "eval_metrics.json").read_text())["test/knn_acc"] == metrics["test/knn_acc"]
    assert (tmp_path / "test_per_species.csv").is_file()


def test_eval_of_an_ensemble_of_one_model_twice_reproduces_that_model(trained_run, tmp_path):
    from forams_lightning.eval import evaluate

    run, metrics = trained_run
    best = run / metrics["best_checkpoint"]
    again = evaluate(compose_app("eval", [f"ckpt=[{best},{best}]", "num_workers=0", "trainer.accelerator=cpu"],
                                 tmp_path))
    assert again and again == pytest.approx({k: metrics[k] for k in again}, abs=1e-6)
    assert json.loads((tmp_path / "eval_metrics.json").read_text())["checkpoint"] == [str(best)] * 2


@pytest.mark.parametrize("change", ["split", "image_size", "run_dir"])
def test_eval_refuses_an_ensemble_of_runs_on_different_images(trained_run, tmp_path, change):
    from omegaconf import OmegaConf

    from forams_lightning.eval import evaluate

    run, metrics = trained_run
    other = tmp_path / "other"
    shutil.copytree(run, other)
    if change == "split":
        lines = (other / "split.csv").read_text().splitlines()
        (other / "split.csv").write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    elif change == "image_size":
        config = OmegaConf.load(other / "config.yaml")
        config.data.image_size += 8
        OmegaConf.save(config, other / "config.yaml")
    expected = {"split": "different splits.*other/split.csv", "image_size": "differ in data.image_size",
                "run_dir": "run_dir= names one training run"}[change]
    extra = [f"run_dir={run}"] if change == "run_dir" else []
    with pytest.raises(ValueError, match=expected):
        evaluate(compose_app("eval", [f"ckpt=[{run / metrics['best_checkpoint']},{other / metrics['best_checkpoint']}]",
                                      "num_workers=0", *extra], tmp_path))

"""The results table: mean and sample std over seeds; evaluation rows."""

import importlib.util
import json
from pathlib import Path

from helpers import REPO

SCRIPT = REPO / "experiments" / "results_table.py"
spec = importlib.util.spec_from_file_location("results_table", SCRIPT)
results_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(results_table)


def _run(folder: Path, seed: int, metrics: dict, seconds: float) -> None:
    (folder / f"seed{seed}").mkdir(parents=True)
    (folder / f"seed{seed}" / "metrics.json").write_text(json.dumps(metrics))
    run = {"fit_seconds": seconds, "accelerator": "CPUAccelerator", "world_size": 1}
    (folder / f"seed{seed}" / "run.json").write_text(json.dumps(run))


def test_rows_are_mean_and_sample_std_over_seeds(tmp_path):
    _run(tmp_path / "tuned", 0, {"acc": 0.8, "best": 0.9}, 60)
    _run(tmp_path / "tuned", 1, {"acc": 0.9, "best": 0.7}, 180)
    _run(tmp_path / "frozen", 0, {"acc": 0.5, "best": float("nan")}, 30)
    table = results_table.main(tmp_path, "note.", {"acc": "accuracy", "best": "val best"})
    lines = table.splitlines()
    assert lines[0].endswith("CPU ×1); note.")
    assert lines[2] == "| recipe | seeds | accuracy | val best | fit + test time |"
    # std with ddof=1: |0.8 - 0.9| / sqrt(2) = 0.0707; a run without a best epoch shows "-", not nan
    assert lines[4] == "| frozen | 1 | 0.500 | - | 0.5 min |"
    assert lines[5] == "| tuned | 2 | 0.850 ± 0.071 | 0.800 ± 0.141 | 2.0 min |"


def test_an_evaluation_row_reads_eval_metrics_and_has_no_time(tmp_path):
    _run(tmp_path / "single", 0, {"acc": 0.8}, 60)
    (tmp_path / "ensemble" / "seed0").mkdir(parents=True)
    (tmp_path / "ensemble" / "seed0" / "eval_metrics.json").write_text(json.dumps({"checkpoint": ["a", "b"],
                                                                                  "acc": 0.95}))
    lines = results_table.main(tmp_path, "note.", {"acc": "accuracy"}).splitlines()
    assert lines[4:] == ["| ensemble | 1 | 0.950 | - |", "| single | 1 | 0.800 | 1.0 min |"]

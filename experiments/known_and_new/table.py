"""The table of `run.sh`: each recipe's known-species and new-species columns, mean ± std over the folds.

    python experiments/known_and_new/table.py runs/known_and_new > experiments/known_and_new/results.md
"""

from __future__ import annotations

import json
import platform
import re
import sys
from datetime import date
from pathlib import Path

import numpy as np

RECIPES = ("closed", "open", "joint")
COLUMNS = [("known accuracy", "test/knn_acc"), ("known macro F1", "test/macro_f1"),
           ("unseen LOO 1-NN", "open/loo_1nn_acc"), ("unseen NMI", "open/agglo_nmi"),
           ("species-count error", None), ("novelty AUROC", "open/novelty_auroc")]


def metrics(run: Path) -> dict:
    """A run's test metrics (`metrics.json` of a training run, `eval_metrics.json` of an ensemble's evaluation)."""
    found = run / "metrics.json" if (run / "metrics.json").is_file() else run / "eval_metrics.json"
    values = json.loads(found.read_text())
    k, truth = values.get("open/agglo_k"), values.get("open/k_true")
    values["count_error"] = abs(k - truth) / truth if k is not None and truth else None
    seconds = json.loads((run / "run.json").read_text()).get("run_seconds") if (run / "run.json").is_file() else None
    values["seconds"] = seconds
    return values


def three_shot(few_shot: Path) -> dict[str, float]:
    """3-shot accuracy of each `NAME` in few_shot.md, with `identify`'s default re-ranking (CSLS over 20)."""
    found = {}
    for line in few_shot.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and cells[1] == "CSLS 20" and cells[2] == "3":
            found[cells[0]] = float(re.match(r"[\d.]+", cells[5]).group())
    return found


def cell(values: list) -> str:
    values = [v for v in values if v is not None]
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "-"


def main(work: Path) -> None:
    folds = sorted(int(p.name.split("_f")[1]) for p in work.glob("closed_f*") if (p / "metrics.json").is_file())
    shots = three_shot(work / "few_shot.md") if (work / "few_shot.md").is_file() else {}
    print(f"Measured {date.today()} on {platform.machine()} CPU (2 cores); embedded library, data.open_set.folds=5, "
          f"folds {folds}; mean ± std over the folds. Run time: training (the joint recipe trains both).\n")
    print("| recipe | " + " | ".join(name for name, _ in COLUMNS) + " | 3-shot new species | run time (s) |")
    print("| --- " * (len(COLUMNS) + 3) + "|")
    for recipe in RECIPES:
        runs = [metrics(work / f"{recipe}_f{f}") for f in folds if (work / f"{recipe}_f{f}").is_dir()]
        if not runs:
            continue
        cells = [cell([r.get(key or "count_error") for r in runs]) for _, key in COLUMNS]
        shot = cell([shots.get(f"{recipe}_f{f}") for f in folds])
        seconds = [r["seconds"] for r in runs] if recipe != "joint" else \
            [a["seconds"] + b["seconds"] for a, b in zip(*(
                [metrics(work / f"{name}_f{f}") for f in folds] for name in ("closed", "open")))]
        print(f"| {recipe} | " + " | ".join(cells) + f" | {shot} | {cell(seconds)} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

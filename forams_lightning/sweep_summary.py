"""Hydra callback: after a multirun (folds, seeds, sweeps), tabulate every job's metrics.json with mean ± std."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from forams_lightning.atomic import atomic_write_text

log = logging.getLogger(__name__)

DEFAULT_PREFIXES = ("test/", "open/", "val/knn_acc_best")


def summary_table(jobs: dict[str, dict], prefixes=DEFAULT_PREFIXES, with_mean: bool = True) -> str:
    """Markdown table: one row per job (its overrides), one column per numeric metric, then (`with_mean`) the mean
    ± std (sample std over the jobs that have the metric)."""
    keys = sorted({k for m in jobs.values() for k, v in m.items()
                   if k.startswith(tuple(prefixes)) and isinstance(v, (int, float))})
    lines = ["| job | " + " | ".join(keys) + " |", "| --- |" + " --- |" * len(keys)]
    for name, metrics in jobs.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(metrics.get(k)) for k in keys) + " |")
    if not with_mean:
        return "\n".join(lines) + "\n"
    cells = []
    for k in keys:
        values = np.array([m[k] for m in jobs.values() if isinstance(m.get(k), (int, float))], float)
        cells.append(f"{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.3f}")
    lines.append(f"| **mean ± std** (n={len(jobs)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


class SweepSummary(Callback):
    """Writes `summary.md` and `summary.json` into the sweep folder when a multirun ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = {}
        for metrics_file in sorted(sweep_dir.glob("*/metrics.json"), key=lambda p: _job_number(p.parent.name)):
            overrides_file = metrics_file.parent / ".hydra" / "overrides.yaml"
            overrides = OmegaConf.load(overrides_file) if overrides_file.is_file() else [metrics_file.parent.name]
            jobs[" ".join(overrides) or metrics_file.parent.name] = json.loads(metrics_file.read_text())
        if not jobs:
            log.warning("multirun in %s produced no metrics.json; no summary written", sweep_dir)
            return
        atomic_write_text(sweep_dir / "summary.md", summary_table(jobs))
        atomic_write_text(sweep_dir / "summary.json", json.dumps(jobs, indent=1, sort_keys=True))
        log.info("sweep summary: %s", sweep_dir / "summary.md")


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else ""


def _job_number(name: str) -> tuple[int, str]:
    return (int(name), name) if name.isdigit() else (1 << 30, name)

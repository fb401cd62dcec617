"""Recompute a finished run's open-set metrics from its saved embeddings (`test_embeddings.npz`), with other
evaluation settings: no image is embedded again.

    python experiments/open_set_radiolaria/rescore.py RUN_DIR [key=value ...] [--write]
    e.g. ... logs/open_set/seed0 novelty_scale_k=0 novelty_neighbours=1 linkage=average

Keys are those of `callbacks.open_set_evaluation` (conf/callbacks/open_set_evaluation.yaml); the run's own values
are the defaults. Prints the open/* metrics as JSON; `--write` replaces them in the run's metrics.json and records
the rescoring there (`rescored`: when, settings, git commit), e.g. after a change to the evaluation code. Runs
saved before 2026-11-29 lack the calibration sets' share of their species' images (`match_sizes`); it is then
counted in the run's data, which must be at its `data.root`.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf


def rescore(run_dir: Path, overrides: list[str]) -> dict[str, float]:
    for name in ("config.yaml", "test_embeddings.npz"):
        if not (run_dir / name).is_file():
            sys.exit(f"error: {run_dir / name} not found (a run folder: runs write test_embeddings.npz since "
                     "2026-11-28)")
    settings = OmegaConf.load(run_dir / "config.yaml").callbacks.open_set_evaluation
    settings = OmegaConf.merge(settings, OmegaConf.from_dotlist(overrides))
    saved = np.load(run_dir / "test_embeddings.npz")
    arrays = {name[: -len("_embeddings")]: (saved[name], saved[name.replace("_embeddings", "_labels")])
              for name in saved.files if name.endswith("_embeddings")}
    crossfit = [v for k, v in sorted(arrays.items()) if k.startswith("crossfit")]
    parts = {k: v for k, v in arrays.items() if not k.startswith("crossfit")}
    return instantiate(settings).scores("test", parts, crossfit, crossfit_share(run_dir, saved, crossfit))


def crossfit_share(run_dir: Path, saved, crossfit: list) -> float | None:
    """The share of their species' images that the cross-fitted sets hold: saved with the embeddings since
    2026-11-29; for older runs counted in the run's data (its `data.root` must be there)."""
    if not crossfit:
        return None
    if "crossfit_share" in saved.files:
        return float(saved["crossfit_share"])
    from forams_lightning.callbacks.whitening import image_share

    data = instantiate(OmegaConf.load(run_dir / "config.yaml").data)
    data.setup("fit")
    return image_share(np.concatenate([labels for _, labels in crossfit]), data.labels)


def write(run_dir: Path, overrides: list[str], metrics: dict[str, float]) -> None:
    from forams_lightning.atomic import atomic_write_json
    from forams_lightning.runs import git_commit

    saved = json.loads((run_dir / "metrics.json").read_text())
    saved = {k: v for k, v in saved.items() if not k.startswith("open/")} | metrics
    saved["rescored"] = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "settings": overrides,
                         "git_commit": git_commit()}
    atomic_write_json(run_dir / "metrics.json", saved)


if __name__ == "__main__":
    run, args = Path(sys.argv[1]), [a for a in sys.argv[2:] if a != "--write"]
    scores = rescore(run, args)
    print(json.dumps(scores, indent=1))
    if "--write" in sys.argv:
        write(run, args, scores)

"""Recompute a finished run's open-set metrics from its saved embeddings (`test_embeddings.npz`), with other
evaluation settings: no image is embedded again.

    python experiments/open_set_radiolaria/rescore.py RUN_DIR [key=value ...] [--write]
    e.g. ... logs/open_set/seed0 novelty.scale_k=0 novelty.neighbours=1 species_count.linkage=average

Keys are those of the run's `callbacks.open_set_evaluation.protocol` (conf/callbacks/open_set_evaluation.yaml), whose
values are the defaults; ``k_estimate=silhouette`` counts the species by the silhouette instead (`silhouette.py`).
Prints the open/* metrics as JSON; `--write` replaces them in the run's metrics.json and records the rescoring there
(`rescored`: when, settings, git commit), e.g. after a change to the evaluation code. Runs saved before 2026-11-29
lack the calibration sets' share of their species' images (`match_sizes`); it is then counted in the run's data,
which must be at its `data.root`.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf

from forams_lightning.evaluation.calibration import CalibrationSets, image_share
from forams_lightning.saved_runs import read_config_file, upgrade_evaluation_settings


def rescore(run_dir: Path, overrides: list[str]) -> dict[str, float]:
    for name in ("config.yaml", "test_embeddings.npz"):
        if not (run_dir / name).is_file():
            sys.exit(f"error: {run_dir / name} not found (a run folder: runs write test_embeddings.npz since "
                     "2026-11-28)")
    run = read_config_file(run_dir / "config.yaml")  # its targets checked: a run folder is data
    upgrade_evaluation_settings(run)
    settings = OmegaConf.merge(run.callbacks.open_set_evaluation.protocol, OmegaConf.from_dotlist(overrides))
    silhouette = settings.pop("k_estimate", "cut") == "silhouette"
    protocol = instantiate(settings)
    saved = np.load(run_dir / "test_embeddings.npz")
    arrays = {name[: -len("_embeddings")]: (saved[name], saved[name.replace("_embeddings", "_labels")])
              for name in saved.files if name.endswith("_embeddings")}
    sets = tuple(v for k, v in sorted(arrays.items()) if k.startswith("crossfit"))
    parts = {k: v for k, v in arrays.items() if not k.startswith("crossfit")}
    calibration = CalibrationSets(sets, crossfit_share(run, saved, sets)) if sets else None
    scores = protocol.score(parts, calibration)
    if silhouette:
        from silhouette import silhouette_scores

        scores = {k: v for k, v in scores.items() if not k.startswith("open/agglo_")}
        scores.update(silhouette_scores(protocol, parts, calibration))
    return scores


def crossfit_share(run, saved, sets) -> float | None:
    """The share of their species' images that the cross-fitted sets hold: saved with the embeddings since
    2026-11-29; for older runs counted in the run's data (its `data.root` must be there)."""
    if "crossfit_share" in saved.files:
        return float(saved["crossfit_share"])
    from forams_lightning.data.reading import read_catalogue

    catalogue = read_catalogue(run.data)  # the split does not change the share: every image of the data counts
    return image_share(np.concatenate([labels for _, labels in sets]), catalogue.labels)


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

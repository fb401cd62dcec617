"""A finished training run read back: its checkpoint, its resolved `config.yaml` with the saved split in force, for
the commands that reuse a run (`export`, `eval`, `morphospace`, rescoring)."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from forams_lightning.checkpoints import load_checkpoint

# What decides the evaluation images: ensemble members must agree on these and on their saved split.csv (seeds may
# differ).
SHARED_DATA_KEYS = ("root", "synthetic", "manifest", "manifest_columns", "image_size", "crop_border",
                    "exif_transpose")
CLOSED_SET = "forams_lightning.evaluation.closed_set.ClosedSetProtocol"
OPEN_SET = "forams_lightning.evaluation.open_set.OpenSetProtocol"


def read_run_config(ckpt: str | Path, run_dir: str | Path | None = None) -> tuple[Path, Path, DictConfig]:
    """(checkpoint, run folder, run config with the saved split in force) for commands that reuse a training run.
    `ckpt` is a checkpoint file, or a run folder (its best checkpoint, as its metrics.json names it)."""
    ckpt = best_checkpoint(Path(ckpt)) if Path(ckpt).is_dir() else Path(ckpt)
    load_checkpoint(ckpt)  # refused here, with one line, where it is not plain data
    run_dir = Path(run_dir) if run_dir else ckpt.parent.parent
    if not (run_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{run_dir / 'config.yaml'} not found: set run_dir= to the training run folder "
                                "that holds config.yaml and split.csv")
    run = read_config_file(run_dir / "config.yaml")
    with open_dict(run):
        run.data.split_file = str(run_dir / "split.csv")
        run.data.output_dir = None  # reading a run, not writing one
        upgrade_evaluation_settings(run)
    return ckpt, run_dir, run


def read_config_file(path: Path) -> DictConfig:
    """A saved run config as data: YAML mapping, every `_target_` it names allowed (`safe_targets`)."""
    from forams_lightning.safe_targets import check_saved_targets

    try:
        run = OmegaConf.load(path)
    except Exception as error:  # noqa: BLE001 - YAML or OmegaConf grammar errors: the file is damaged
        raise ValueError(f"{path}: not a readable run config ({type(error).__name__}); the file is damaged") from None
    if not isinstance(run, DictConfig):
        raise ValueError(f"{path}: expected a mapping of config groups")
    check_saved_targets(run, path)
    return run


def best_checkpoint(run_dir: Path) -> Path:
    """The checkpoint a finished run tested: the one its metrics.json names."""
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        raise FileNotFoundError(f"ckpt={run_dir} is a folder without metrics.json: give a training run folder "
                                "(logs/<task>/runs/<date>) or a checkpoint file")
    try:
        name = json.loads(metrics.read_text())["best_checkpoint"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{metrics}: no best_checkpoint (damaged, or not a training run's); give the checkpoint "
                         "file instead") from None
    return run_dir / name


def read_run_configs(ckpt, run_dir: str | Path | None = None) -> list[tuple[Path, Path, DictConfig]]:
    """`read_run_config` of one checkpoint or of a list (an ensemble), checked to share their images and split."""
    checkpoints = list(ckpt) if isinstance(ckpt, (list, tuple, ListConfig)) else [ckpt]
    if len(checkpoints) > 1 and run_dir:
        raise ValueError("run_dir= names one training run; an ensemble (a list of ckpt=) reads each checkpoint's "
                         "own run folder")
    runs = [read_run_config(c, run_dir) for c in checkpoints]
    first_ckpt, first_dir, first = runs[0]
    split = _read_bytes(first_dir / "split.csv")
    for ckpt, folder, run in runs[1:]:
        for key in SHARED_DATA_KEYS:
            if run.data.get(key) != first.data.get(key):
                raise ValueError(f"ensemble members differ in data.{key}: {first.data.get(key)} ({first_ckpt}) vs "
                                 f"{run.data.get(key)} ({ckpt})")
        if _read_bytes(folder / "split.csv") != split:
            raise ValueError(f"ensemble members were trained on different splits: {first_dir / 'split.csv'} and "
                             f"{folder / 'split.csv'} differ (vary seed= only; keep data.split.seed fixed)")
    return runs


def upgrade_evaluation_settings(run: DictConfig) -> None:
    """Run folders written before the evaluation protocols kept their settings flat under
    `callbacks.knn_evaluation` and `callbacks.open_set_evaluation`: read them in today's shape, in place."""
    callbacks = run.get("callbacks") or {}
    knn = callbacks.get("knn_evaluation")
    if isinstance(knn, DictConfig) and "protocol" not in knn:
        protocol = {"_target_": CLOSED_SET, "k": knn.pop("k", 5), "metric": knn.pop("metric", "l2")}
        knn.protocol = protocol
    open_set = callbacks.get("open_set_evaluation")
    if isinstance(open_set, DictConfig) and "protocol" not in open_set:
        if open_set.pop("k_estimate", "cut") != "cut":
            raise ValueError("this run estimated the number of unseen species by the silhouette, which the package "
                             "no longer does; rescore it with experiments/open_set_radiolaria/rescore.py")
        flat = {k: open_set.pop(k) for k in list(open_set) if k != "_target_"}
        flat.pop("full_at_val", None)
        open_set.protocol = {
            "_target_": OPEN_SET, **{k: flat.pop(k) for k in ("k", "metric", "seed", "keep_known") if k in flat},
            "reranking": {k: flat.pop(k) for k in ("expansion_k", "expansion_alpha", "csls_k") if k in flat},
            "species_count": {k: flat.pop(k) for k in ("linkage", "calibration_draws", "match_sizes") if k in flat},
            "novelty": {k[len("novelty_"):]: flat.pop(k) for k in ("novelty_neighbours", "novelty_scale_k")
                        if k in flat}}


def _read_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None

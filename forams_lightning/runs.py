"""Helpers shared by the entry points: instantiate config groups, choose the checkpoint to test, record a run."""

from __future__ import annotations

import logging
import os
import platform
from importlib import metadata
from pathlib import Path

from omegaconf import DictConfig

from forams_lightning.atomic import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

RECORDED_PACKAGES = ("forams-lightning", "torch", "torchvision", "pytorch-lightning", "pytorch-metric-learning",
                     "faiss-cpu", "timm", "hydra-core", "numpy")


# The scores the last line of a training run shows (where the run has them).
HEADLINE_METRICS = ("test/knn_acc", "test/macro_f1", "open/loo_1nn_acc", "open/kmeans_nmi", "open/novelty_auroc")


def instantiate_all(group: DictConfig | None) -> list:
    """Instantiate every `_target_` entry of a config group such as `callbacks` or `logger` (None -> [])."""
    from hydra.utils import instantiate

    if not group:
        return []
    return [instantiate(node) for node in group.values() if isinstance(node, DictConfig) and "_target_" in node]


MIN_FREE_BYTES = 200 * 2**20  # checkpoints of a ResNet-50 run are ~100 MB each


def ensure_writable(folder: str | Path) -> Path:
    """Fail before any work when the run folder cannot be created, written, or its disk is (nearly) full."""
    import shutil

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        raise OSError(f"output folder {folder} is not writable ({error.strerror or error}); "
                      "choose another with hydra.run.dir=... (or paths.output_dir)") from error
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise OSError(f"output folder {folder}: only {free / 2**20:.0f} MiB free on its disk; checkpoints need "
                      f"at least {MIN_FREE_BYTES / 2**20:.0f} MiB")
    return folder


def save_run_config(cfg: DictConfig) -> Path:
    """The composed config with every interpolation resolved, as `config.yaml` in the run folder: what `export`
    and `eval` rebuild the data and the model from."""
    from omegaconf import OmegaConf

    path = Path(cfg.paths.output_dir) / "config.yaml"
    if not is_rank_zero():  # DDP workers rerun the command; one writer per run folder
        return path
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved.pop("hydra", None)
    atomic_write_text(path, OmegaConf.to_yaml(resolved))
    return path


def read_run_config(ckpt: str | Path, run_dir: str | Path | None = None):
    """(checkpoint, run folder, run config with the saved split in force) for commands that reuse a training run."""
    from omegaconf import OmegaConf, open_dict

    from forams_lightning.checkpoints import load_checkpoint

    ckpt = Path(ckpt)
    load_checkpoint(ckpt)  # refused here, with one line, where it is not plain data
    run_dir = Path(run_dir) if run_dir else ckpt.parent.parent
    if not (run_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{run_dir / 'config.yaml'} not found: set run_dir= to the training run folder "
                                "that holds config.yaml and split.csv")
    run = OmegaConf.load(run_dir / "config.yaml")
    with open_dict(run):
        run.data.split_file = str(run_dir / "split.csv")
        run.data.output_dir = None  # reading a run, not writing one
    return ckpt, run_dir, run


# What decides the evaluation images: ensemble members must agree on these and on their saved split.csv (seeds may
# differ).
SHARED_DATA_KEYS = ("root", "synthetic", "manifest", "manifest_columns", "image_size", "crop_border",
                    "exif_transpose")


def read_run_configs(ckpt, run_dir: str | Path | None = None) -> list:
    """`read_run_config` of one checkpoint or of a list (an ensemble), checked to share their images and split."""
    from omegaconf import ListConfig

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


def _read_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def select_checkpoint(trainer, output_dir: str | Path) -> str:
    """The best checkpoint on the validation metric; where fit saved none (no epoch ran: frozen features or a
    whitening fitted at fit start, `trainer.max_epochs=0`; or `fast_dev_run`), the weights as they are, saved as
    `checkpoints/model.ckpt` so that `export` and `eval` can read the run like any other."""
    callback = trainer.checkpoint_callback
    if callback is not None and callback.best_model_path:
        return callback.best_model_path
    path = Path(output_dir) / "checkpoints" / "model.ckpt"
    trainer.save_checkpoint(path)
    log.info("no checkpoint was selected during fit (no validation ran); the model as it is: %s", path)
    return str(path)


def record_run(cfg: DictConfig, trainer, datamodule, logged: dict, seconds: dict[str, float],
               tested: str) -> float | None:
    """Write into the run folder `metrics.json` (scores, best validation score, the `tested` checkpoint relative to
    the run folder, epochs, split report, seed: identical for identical reruns on CPU) and `run.json` (what differs
    between reruns: wall times, package versions, git commit, host). Returns the best validation score of the
    optimised metric."""
    out = Path(cfg.paths.output_dir)
    metrics = {k: float(v) for k, v in sorted(logged.items()) if k.startswith(("val/", "test/", "open/", "open_val/"))}
    callback = trainer.checkpoint_callback
    best = float(callback.best_model_score) if callback is not None and callback.best_model_score is not None else None
    metrics.update({
        f"{cfg.optimized_metric}_best": best,
        "best_checkpoint": os.path.relpath(tested, out),
        "epochs": trainer.current_epoch,
        "split": getattr(datamodule, "split_report", {}),
        "seed": cfg.seed,
    })
    if is_rank_zero():  # DDP workers rerun the command; one writer per run folder
        _write_run_files(out, metrics, trainer, seconds)
    return best if best is not None else metrics.get(cfg.optimized_metric)


def _write_run_files(out: Path, metrics: dict, trainer, seconds: dict[str, float]) -> None:
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_json(out / "run.json", {
        **{f"{k}_seconds": round(v, 1) for k, v in seconds.items()},
        "git_commit": git_commit(),
        "package_version": package_version(),
        "versions": {name: _version(name) for name in RECORDED_PACKAGES},
        "python": platform.python_version(),
        "accelerator": type(trainer.accelerator).__name__,
        "world_size": trainer.world_size,
        "precision": trainer.precision,
        "host": platform.node(),
    })
    headline = [f"{k}={metrics[k]:.4f}" for k in HEADLINE_METRICS if metrics.get(k) is not None]
    log.info("%s | checkpoint %s | metrics written to %s", " | ".join(headline), metrics["best_checkpoint"],
             out / "metrics.json")


def is_rank_zero() -> bool:
    """True in a single process and in the global rank 0 of a distributed run (set from the launcher's env)."""
    from pytorch_lightning.utilities import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def package_version() -> str | None:
    return _version("forams-lightning")


def git_commit() -> str | None:
    """The commit of the package's source checkout (with "+dirty" for uncommitted changes); None outside git."""
    import subprocess

    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=source,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None

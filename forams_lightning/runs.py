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


def check_schedule(cfg: DictConfig) -> None:
    """Epochs Lightning would refuse with a traceback, or train forever under a schedule of epochs."""
    epochs = cfg.trainer.get("max_epochs")
    if epochs is not None and epochs < -1:
        raise ValueError(f"trainer.max_epochs={epochs}: a number of epochs >= 0, or -1 to train until stopped")
    if epochs == -1 and cfg.get("scheduler") and "T_max" in cfg.scheduler:
        raise ValueError("trainer.max_epochs=-1 trains until stopped, but the cosine schedule needs a number of "
                         "epochs (its T_max): set trainer.max_epochs=N, or scheduler=none with a stopping rule "
                         "(trainer.max_time=...)")
    if epochs == -1 and not any(cfg.trainer.get(k) not in (None, -1) for k in ("max_time", "max_steps")):
        log.warning("trainer.max_epochs=-1 with no trainer.max_time or max_steps: training runs until it is "
                    "stopped (Ctrl-C saves the last checkpoint and tests it)")


def check_distributed_sampler(trainer, cfg: DictConfig) -> None:
    """The data module shards P×K batches and evaluation sets itself: Lightning must not swap in its samplers."""
    if trainer.world_size > 1 and cfg.trainer.get("use_distributed_sampler", True):
        raise ValueError("distributed training with forams-lightning needs trainer.use_distributed_sampler=false "
                         "(the data module shards P×K batches and evaluation sets itself); use trainer=ddp")


MIN_FREE_BYTES = 200 * 2**20  # checkpoints of a ResNet-50 run are ~100 MB each


def probe_writable(folder: Path) -> None:
    """Make `folder` and write a file into it (OSError where either fails)."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".write-test-{os.getpid()}"
    probe.write_bytes(b"ok")
    probe.unlink()


def ensure_writable(folder: str | Path) -> Path:
    """Fail before any work when the run folder cannot be created, written, or its disk is (nearly) full."""
    import shutil

    folder = Path(folder)
    try:
        probe_writable(folder)
    except OSError as error:
        raise OSError(f"output folder {folder} is not writable ({error.strerror or error}); "
                      "choose another with hydra.run.dir=... (or paths.output_dir)") from error
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise OSError(f"output folder {folder}: only {free / 2**20:.0f} MiB free on its disk; checkpoints need "
                      f"at least {MIN_FREE_BYTES / 2**20:.0f} MiB")
    return folder


def require_free_space(folder: str | Path, need: int, what: str) -> None:
    """Refuse before the work where `folder`'s disk has less than `need` bytes free for `what`."""
    import shutil

    existing = next(p for p in (Path(folder).resolve(), *Path(folder).resolve().parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if free < need:
        raise OSError(f"output folder {folder}: {what} need about {need / 2**20:.0f} MiB, {free / 2**20:.1f} MiB "
                      "free on its disk; free space or choose another with hydra.run.dir=...")


def save_run_config(cfg: DictConfig) -> Path:
    """The composed config with every interpolation resolved, as `config.yaml` in the run folder: what `export`
    and `eval` rebuild the data and the model from."""
    from omegaconf import OmegaConf

    path = Path(cfg.paths.output_dir) / "config.yaml"
    if not is_rank_zero():  # DDP workers rerun the command; one writer per run folder
        return path
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)  # a composed config is a mapping
    resolved.pop("hydra", None)
    atomic_write_text(path, OmegaConf.to_yaml(resolved))
    return path


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


def record_run(cfg: DictConfig, trainer, datamodule, logged: dict, *, seconds: dict[str, float],
               tested: str) -> float | None:
    """Write into the run folder `metrics.json` (scores, best validation score, the `tested` checkpoint relative to
    the run folder, epochs, split report, seed: identical for identical reruns on CPU) and `run.json` (what differs
    between reruns: wall times, package versions, git commit, host). Returns the best validation score of the
    optimised metric.

    Args:
        cfg: the run's config.
        trainer: the trainer after fit and test.
        datamodule: the data (its split report).
        logged: the metrics logged (last validation and test).
        seconds: wall times of fit and of the whole run.
        tested: the checkpoint tested.
    """
    out = Path(cfg.paths.output_dir)
    metrics: dict[str, object] = {k: float(v) for k, v in sorted(logged.items())
                                  if k.startswith(("val/", "test/", "open/", "open_val/"))}
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
    value = metrics.get(cfg.optimized_metric)
    return best if best is not None else float(value) if isinstance(value, (int, float)) else None


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

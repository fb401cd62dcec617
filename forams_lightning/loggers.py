"""Logger factories: wandb that works with no network and no account."""

from __future__ import annotations

import os
from pathlib import Path


def wandb_configured() -> bool:
    """True where the user chose a wandb mode or gave credentials (env or ~/.netrc)."""
    if os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path.home() / ".netrc"
    return netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def wandb_logger(save_dir: str, offline: bool | None = None, **kwargs):
    """A WandbLogger that is offline unless wandb is configured (or `offline=false` is set explicitly).

    Offline runs land in `save_dir/wandb/` and can be uploaded later with `wandb sync`.
    """
    from pytorch_lightning.loggers import WandbLogger

    if offline is None:
        offline = not wandb_configured()
    kwargs.update(_multirun_identity(kwargs.get("group"), kwargs.get("name")))
    if offline:
        os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    logger = WandbLogger(save_dir=save_dir, offline=offline, **kwargs)
    # Lightning always passes `anonymous` to wandb.init, and wandb warns that the setting is deprecated.
    logger._wandb_init.pop("anonymous", None)
    return logger


def _multirun_identity(group: str | None, name: str | None) -> dict:
    """In a Hydra multirun (seeds, folds, Optuna trials) the jobs of one sweep share a wandb group named after the
    sweep folder, and each run is named by its job number (its overrides are in the logged config)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return {}
    hc = HydraConfig.get()
    return {"group": f"{group or 'sweep'}-{Path(hc.sweep.dir).name}", "name": f"{name or 'job'}#{hc.job.num}"}


def log_images(trainer, images: dict[str, Path]) -> None:
    """Report images (confusion matrix, morphospace maps, ...) to every wandb logger of the run."""
    from pytorch_lightning.loggers import WandbLogger

    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            for key, path in images.items():
                if Path(path).is_file():
                    logger.log_image(key=key, images=[str(path)])

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
    if offline:
        os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    return WandbLogger(save_dir=save_dir, offline=offline, **kwargs)

"""Checkpoints and weight files read as data: tensors and plain values only, never an object that could run code."""

from __future__ import annotations

import pickle
import re
from pathlib import Path


def load_weights_only(path: str | Path, name: str | None = None):
    """`torch.load(path, weights_only=True)`: a file that holds pickled Python objects (which would run code while
    loading) is refused with one line naming it (`name`, default the path), as is a truncated or foreign file."""
    import torch

    name = name or str(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch reports a truncated or foreign file in many ways
        found = re.search(r"GLOBAL (\S+)", str(error))
        if isinstance(error, pickle.UnpicklingError) and found:
            raise ValueError(f"{name}: refused: it holds a Python object ({found.group(1)}) besides weights and "
                             "plain values, and loading it could run code") from None
        raise ValueError(f"{name}: not a readable weights file ({type(error).__name__}: damaged, truncated or of "
                         "another program)") from None


def load_checkpoint(path: str | Path) -> dict:
    """A training checkpoint of this package (`load_weights_only`, and it has a ``state_dict``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt={path}: no such checkpoint file")
    checkpoint = load_weights_only(path, f"ckpt={path}")
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise ValueError(f"ckpt={path}: not a training checkpoint of this package (no state_dict)")
    return checkpoint

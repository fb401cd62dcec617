"""Embed a list of image files in batches (inference mode, any device), reporting files that cannot be read."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import DataLoader

from forams_lightning.data.specimens import SpecimenDataset, collate_specimens

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def embed_files(embedder: torch.nn.Module, paths: list[str], transform, exif_transpose: bool = True,
                batch_size: int = 64, num_workers: int = 2, device: str = "auto",
                description: str = "embedding") -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
    """(embeddings of the readable files, their indices into `paths`, [(index, error)] of the unreadable ones)."""
    from rich.progress import Progress

    device = resolve_device(device)
    embedder = embedder.to(device).eval()
    loader = DataLoader(SpecimenDataset(paths, transform, exif_transpose), batch_size=batch_size,
                        num_workers=num_workers, collate_fn=collate_specimens)
    chunks, good, bad = [], [], []
    with torch.inference_mode(), Progress(transient=True) as progress:
        task = progress.add_task(description, total=len(paths))
        for images, indices, failures in loader:
            if images is not None:
                chunks.append(embedder(images.to(device)).float().cpu().numpy())
                good += indices
            bad += failures
            progress.advance(task, len(indices) + len(failures))
    for i, error in bad:
        log.warning("skipped %s: %s", paths[i], error)
    dim = chunks[0].shape[1] if chunks else 0
    return (np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)), good, bad

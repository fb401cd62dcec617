"""Embed a list of image files in batches (inference mode, any device), reporting files that cannot be read."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader

from forams_lightning.console import progress
from forams_lightning.data.specimens import SpecimenDataset, collate_specimens

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def iter_embeddings(embedder: torch.nn.Module, paths: list[str], transform, exif_transpose: bool = True,
                    batch_size: int = 64, num_workers: int = 2, device: str = "auto",
                    description: str = "embedding") -> Iterator[tuple[np.ndarray, list[int], list[tuple[int, str]]]]:
    """Batch by batch, in the order of `paths`: (embeddings of the readable files, their indices into `paths`,
    [(index, error)] of the unreadable ones). Progress goes to the terminal and the log (`console.progress`);
    memory does not grow with the number of files."""
    device = resolve_device(device)
    embedder = embedder.to(device).eval()
    loader = DataLoader(SpecimenDataset(paths, transform, exif_transpose), batch_size=batch_size,
                        num_workers=num_workers, collate_fn=collate_specimens)
    with torch.inference_mode(), progress(description, len(paths)) as advance:
        for images, indices, failures in loader:
            for i, error in failures:
                log.warning("skipped %s: %s", paths[i], error)
            embeddings = embedder(images.to(device)).float().cpu().numpy() if images is not None else None
            yield embeddings, indices, failures
            advance(len(indices) + len(failures))


def embed_files(embedder: torch.nn.Module, paths: list[str], transform, exif_transpose: bool = True,
                batch_size: int = 64, num_workers: int = 2, device: str = "auto",
                description: str = "embedding") -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
    """`iter_embeddings` collected: (embeddings of the readable files, their indices, [(index, error)])."""
    chunks, good, bad = [], [], []
    for embeddings, indices, failures in iter_embeddings(embedder, paths, transform, exif_transpose, batch_size,
                                                         num_workers, device, description):
        if embeddings is not None:
            chunks.append(embeddings)
            good += indices
        bad += failures
    dim = chunks[0].shape[1] if chunks else 0
    return (np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)), good, bad

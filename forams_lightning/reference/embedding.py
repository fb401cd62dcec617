"""Embed a list of image files in batches (inference mode, any device), reporting files that cannot be read."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from forams_lightning.console import progress
from forams_lightning.data.specimens import SpecimenDataset, collate_specimens

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inference:
    """How files are embedded: images a batch, loader worker processes, and the device (``auto``: CUDA where there
    is one, else the CPU; or ``cpu``, ``cuda``, ``cuda:1``)."""

    batch_size: int = 64
    num_workers: int = 2
    device: str = "auto"

    def __post_init__(self):
        for key, least in (("batch_size", 1), ("num_workers", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{key} must be a whole number >= {least} (got {value!r})")

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def iter_embeddings(embedder: torch.nn.Module, paths: list[str], transform, exif_transpose: bool = True,
                    inference: Inference = Inference(), description: str = "embedding"
                    ) -> Iterator[tuple[np.ndarray | None, list[int], list[tuple[int, str]]]]:
    """Batch by batch, in the order of `paths`: (embeddings of the readable files, their indices into `paths`,
    [(index, error)] of the unreadable ones). Progress goes to the terminal and the log (`console.progress`);
    memory does not grow with the number of files."""
    device = inference.torch_device()
    embedder = embedder.to(device).eval()
    loader = DataLoader(SpecimenDataset(paths, transform, exif_transpose), batch_size=inference.batch_size,
                        num_workers=inference.num_workers, collate_fn=collate_specimens)
    with torch.inference_mode(), progress(description, len(paths)) as advance:
        for images, indices, failures in loader:
            for i, error in failures:
                log.warning("skipped %s: %s", paths[i], error)
            embeddings = embedder(images.to(device)).float().cpu().numpy() if images is not None else None
            yield embeddings, indices, failures
            advance(len(indices) + len(failures))


def embed_files(embedder: torch.nn.Module, paths: list[str], transform, exif_transpose: bool = True,
                inference: Inference = Inference(), description: str = "embedding",
                dim: int = 0) -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
    """`iter_embeddings` collected: (embeddings of the readable files, their indices, [(index, error)]); `dim`: the
    width of the empty result where no file is readable."""
    chunks, good, bad = [], [], []
    for embeddings, indices, failures in iter_embeddings(embedder, paths, transform, exif_transpose, inference,
                                                         description):
        if embeddings is not None:
            chunks.append(embeddings)
            good += indices
        bad += failures
    return (np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)), good, bad

"""Embed a list of image files in batches (inference mode, any device), reporting files that cannot be read."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from forams_lightning.console import progress
from forams_lightning.data.specimens import SpecimenDataset, collate_specimens
from forams_lightning.models.backbones import resolve_layouts

log = logging.getLogger(__name__)


PRECISIONS = ("auto", "32", "bf16")


@dataclass(frozen=True)
class Inference:
    """How files are embedded: images a batch, loader worker processes, the device (``auto``: CUDA where there is
    one, else the CPU; or ``cpu``, ``cuda``, ``cuda:1``) and the precision: ``32``, ``bf16`` (autocast to bfloat16)
    or ``auto`` (bf16 on a CPU with native bfloat16 instructions, AVX-512 BF16 or AMX, where it is 2-3.5× faster and
    gave the same votes as fp32 on held-out images; fp32 elsewhere: docs/scaling.md)."""

    batch_size: int = 64
    num_workers: int = 2
    device: str = "auto"
    precision: str = "32"

    def __post_init__(self) -> None:
        for key, least in (("batch_size", 1), ("num_workers", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{key} must be a whole number >= {least} (got {value!r})")
        if str(self.precision) not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS} (got {self.precision!r})")

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)

    def bf16(self, device: torch.device) -> bool:
        """Whether the passes on `device` autocast to bfloat16."""
        if str(self.precision) == "auto":
            return device.type == "cpu" and native_bf16()
        return str(self.precision) == "bf16"

    def autocast(self, device: torch.device) -> AbstractContextManager:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16(device))


@functools.cache
def native_bf16() -> bool:
    """The CPU has bfloat16 instructions (AVX-512 BF16 or AMX; read from /proc/cpuinfo, so Linux only: elsewhere
    taken as no). Without them bfloat16 is emulated and slower than fp32."""
    try:
        return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", Path("/proc/cpuinfo").read_text()))
    except OSError:
        return False


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def iter_embeddings(embedder: torch.nn.Module, paths: list[str], transform: Callable, exif_transpose: bool = True,
                    *, inference: Inference = Inference(), description: str = "embedding"
                    ) -> Iterator[tuple[np.ndarray | None, list[int], list[tuple[int, str]]]]:
    """Batch by batch, in the order of `paths`: (embeddings of the readable files, their indices into `paths`,
    [(index, error)] of the unreadable ones). Progress goes to the terminal and the log (`console.progress`);
    memory does not grow with the number of files.

    Args:
        embedder: the network.
        paths: the image files.
        transform: PIL image -> tensor (the library's preprocessing).
        exif_transpose: images turned as their EXIF orientation says.
        inference: batch size, workers, device and precision.
        description: the progress line's name.
    """
    device = inference.torch_device()
    embedder = resolve_layouts(embedder.to(device).eval())
    loader = DataLoader(SpecimenDataset(paths, transform, exif_transpose), batch_size=inference.batch_size,
                        num_workers=inference.num_workers, collate_fn=collate_specimens)
    with torch.inference_mode(), inference.autocast(device), progress(description, len(paths)) as advance:
        for images, indices, failures in loader:
            for i, error in failures:
                log.warning("skipped %s: %s", paths[i], error)
            embeddings = embedder(images.to(device)).float().cpu().numpy() if images is not None else None
            yield embeddings, indices, failures
            advance(len(indices) + len(failures))


def embed_files(embedder: torch.nn.Module, paths: list[str], transform: Callable, exif_transpose: bool = True,
                *, inference: Inference = Inference(), description: str = "embedding",
                dim: int = 0) -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
    """`iter_embeddings` collected: (embeddings of the readable files, their indices, [(index, error)]); `dim`: the
    width of the empty result where no file is readable.

    Args:
        embedder: the network.
        paths: the image files.
        transform: PIL image -> tensor (the library's preprocessing).
        exif_transpose: images turned as their EXIF orientation says.
        inference: batch size, workers, device and precision.
        description: the progress line's name.
        dim: the width of the empty result where no file is readable.
    """
    chunks, good, bad = [], [], []
    for embeddings, indices, failures in iter_embeddings(embedder, paths, transform, exif_transpose,
                                                         inference=inference, description=description):
        if embeddings is not None:
            chunks.append(embeddings)
            good += indices
        bad += failures
    return (np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)), good, bad

"""A map-style dataset over image paths: returns (image tensor, species index, sample index)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from forams_lightning.data.images import load_rgb


class ImageDataset(Dataset):
    """Reads files, or with `decoded` (the decoded-image cache's array) and `rows` (each item's row in it) the
    prepared pixels; `transform` then gets a PIL image either way."""

    def __init__(self, paths: Sequence[str], labels: Sequence[int], transform: Callable, exif_transpose: bool = True,
                 *, decoded: np.ndarray | None = None, rows: Sequence[int] | None = None):
        """The images and their labels.

        Args:
            paths: the image files.
            labels: each one's species index.
            transform: applied to each PIL image.
            exif_transpose: images turned as their EXIF orientation says.
            decoded: the decoded-image cache's array, read instead of the files.
            rows: each item's row in `decoded`.
        """
        self.paths, self.labels, self.transform = list(paths), list(labels), transform
        self.exif_transpose, self.decoded, self.rows = exif_transpose, decoded, rows

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: int | tuple[int, int]):
        """`key`: an index, or (index, seed) to draw this item's random augmentation from its own seed."""
        if isinstance(key, tuple):
            i, seed = key
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                return self._item(i)
        return self._item(key)

    def _item(self, i: int):
        if self.decoded is not None and self.rows is not None:
            image = Image.fromarray(np.asarray(self.decoded[self.rows[i]]))
        else:
            image = load_rgb(self.paths[i], self.exif_transpose)
        return self.transform(image), self.labels[i], i

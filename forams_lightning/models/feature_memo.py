"""Backbone features remembered by the pixels they came from: a frozen backbone gives the same features for the same
input, so an open-set test pass need not re-embed the training images that the whitening fit embedded moments before
(about a third of an `open_set` run on CPU)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import torch


class FeatureMemo:
    """Features keyed by a digest of each input image's bytes (shape and dtype included). Only what `remember` was
    given is kept, so memory stays that of the fitting set; lookups of anything else run the backbone."""

    def __init__(self) -> None:
        self._features: dict[bytes, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._features)

    def clear(self) -> None:
        self._features.clear()

    @staticmethod
    def _keys(images: torch.Tensor) -> list[bytes]:
        rows = images.detach().cpu().contiguous()
        tag = f"{tuple(rows.shape[1:])}{rows.dtype}".encode()
        return [hashlib.blake2b(tag + row.numpy().tobytes(), digest_size=16).digest()
                for row in rows.view(len(rows), -1).view(torch.uint8)]

    def remember(self, images: torch.Tensor, features: torch.Tensor) -> None:
        for key, row in zip(self._keys(images), features.detach().cpu()):
            self._features[key] = row

    def __call__(self, backbone: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> torch.Tensor:
        """`backbone(images)`, with the remembered rows taken from the memo and only the others computed."""
        if not self._features:
            return backbone(images)
        keys = self._keys(images)
        missing = [i for i, key in enumerate(keys) if key not in self._features]
        if len(missing) == len(keys):
            return backbone(images)
        rows = [self._features.get(key) for key in keys]
        if missing:
            computed = backbone(images[missing]).cpu()
            for i, row in zip(missing, computed):
                rows[i] = row
        ready = [row for row in rows if row is not None]  # every row: memoised or computed just now
        return torch.stack([row.to(ready[0].dtype) for row in ready]).to(images.device)

"""The embedding network on its own (backbone -> head, rotation averaging): what training optimises and what a
reference library ships, so inference computes exactly the trained embedding."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def rotation_average(forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                     rotations: int = 1) -> torch.Tensor:
    """Mean embedding over `rotations` quarter turns (shells and skeletons have no canonical orientation)."""
    return torch.stack([forward(torch.rot90(images, k, (2, 3))) for k in range(rotations)]).mean(0)


class Embedder(nn.Module):
    """[0, 1] RGB images (B, 3, H, W) -> embeddings (B, D). State dict keys: ``backbone.*``, ``head.*`` (the same
    as in the training checkpoint's LightningModule)."""

    def __init__(self, backbone: nn.Module, head: nn.Module, tta_rotations: int = 1):
        super().__init__()
        self.backbone, self.head, self.tta_rotations = backbone, head, tta_rotations

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return rotation_average(lambda x: self.head(self.backbone(x))[0], images, self.tta_rotations)

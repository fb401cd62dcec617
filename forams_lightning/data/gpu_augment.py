"""Training augmentation on the accelerator (kornia), for when CPU workers cannot keep a GPU fed.

The same recipe as `transforms.augment_transform(train=True)`, drawn per image on the device. Its random draws come
from torch's global generator, so unlike the CPU path a resumed run does not replay an epoch's exact augmentations.
"""

from __future__ import annotations

import torch
from torch import nn


class GPUAugmentation(nn.Module):
    def __init__(self):
        super().__init__()
        import kornia.augmentation as K

        self.ops = K.AugmentationSequential(
            K.RandomRotation(180.0, p=1.0),
            K.RandomHorizontalFlip(),
            K.RandomVerticalFlip(),
            K.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.1, hue=0.02, p=1.0),
            K.RandomGaussianBlur((3, 3), (0.1, 1.0), p=0.3),
        )

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.ops(images)

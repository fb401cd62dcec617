"""Training augmentation on the accelerator (kornia), for when CPU workers cannot keep a GPU fed.

The same recipe (`transforms.Augmentation`) as the CPU transforms, drawn per image on the device. Its random draws
come from torch's global generator, so unlike the CPU path a resumed run does not replay an epoch's exact augmentations.
"""

from __future__ import annotations

import torch
from torch import nn

from forams_lightning.data.transforms import Augmentation


class GPUAugmentation(nn.Module):
    def __init__(self, augment: Augmentation):
        super().__init__()
        import kornia.augmentation as K

        ops: list[nn.Module] = []
        if augment.scale:
            ops.append(K.RandomAffine(float(augment.rotation), scale=augment.zoom_range(), p=1.0))
        elif augment.rotation:
            ops.append(K.RandomRotation(float(augment.rotation), p=1.0))
        if augment.flips:
            ops += [K.RandomHorizontalFlip(), K.RandomVerticalFlip()]
        if augment.color_jitter:
            ops.append(K.ColorJitter(**augment.jitter_ranges(), p=1.0))
        if augment.blur:
            ops.append(K.RandomGaussianBlur((3, 3), (0.1, 1.0), p=augment.blur))
        self.ops = K.AugmentationSequential(*ops) if ops else nn.Identity()  # type: ignore[arg-type]  # kornia's ops

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.ops(images)

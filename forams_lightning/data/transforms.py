"""Image transforms: crop the label strip, letterbox to a square, augment for training.

Normalisation is not here: it belongs to the backbone and lives in the model, so the exported embedder takes the
same [0, 1] tensors that these transforms produce.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2 as T


class CropBorder:
    """Cut a label strip off the bottom (a fraction of the height), then trim the dark border around the specimen."""

    def __init__(self, bottom_fraction: float = 0.0, dark_threshold: int = 20):
        self.bottom_fraction, self.dark_threshold = bottom_fraction, dark_threshold

    def __call__(self, img: Image.Image) -> Image.Image:
        if self.bottom_fraction > 0:
            img = img.crop((0, 0, img.width, max(1, round(img.height * (1 - self.bottom_fraction)))))
        if self.dark_threshold > 0:
            bright = np.asarray(img.convert("L")) > self.dark_threshold
            rows, cols = np.flatnonzero(bright.any(1)), np.flatnonzero(bright.any(0))
            if len(rows) and len(cols):
                img = img.crop((cols[0], rows[0], cols[-1] + 1, rows[-1] + 1))
        return img


class Letterbox:
    """Resize the longest side to `size` keeping the aspect ratio, and pad to a black `size`×`size` square."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, img: Image.Image) -> Image.Image:
        scale = self.size / max(img.size)
        w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
        canvas = Image.new("RGB", (self.size, self.size))
        canvas.paste(img.resize((w, h), Image.BILINEAR), ((self.size - w) // 2, (self.size - h) // 2))
        return canvas


def prepare_transform(image_size: int, crop_border: dict | None = None) -> T.Compose:
    """The deterministic part, PIL to PIL: border crop and letterbox (what the decoded-image cache stores)."""
    return T.Compose([*([CropBorder(**crop_border)] if crop_border else []), Letterbox(image_size)])


def augment_transform(train: bool, to_float: bool = True) -> T.Compose:
    """Prepared image to tensor: training adds rotation (shells have no canonical orientation), flips, and light
    colour and blur changes. `to_float=False` keeps uint8 (GPU-side augmentation converts after the transfer)."""
    steps = []
    if train:
        steps += [
            T.RandomRotation(180),
            T.RandomHorizontalFlip(),
            T.RandomVerticalFlip(),
            T.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.1, hue=0.02),
            T.RandomApply([T.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.3),
        ]
    steps += [T.ToImage(), *([T.ToDtype(torch.float32, scale=True)] if to_float else [])]
    return T.Compose(steps)


def build_transform(image_size: int, train: bool, crop_border: dict | None = None) -> T.Compose:
    """File image to model input; evaluation transforms are deterministic."""
    return T.Compose([prepare_transform(image_size, crop_border), augment_transform(train)])

"""Image transforms: crop the label strip, letterbox to a square, augment for training.

Normalisation is not here: it belongs to the backbone and lives in the model, so the exported embedder takes the
same [0, 1] tensors that these transforms produce.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypedDict

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2 as T


class CropBorderOptions(TypedDict, total=False):
    """`data.crop_border`: the arguments of `CropBorder`."""

    bottom_fraction: float
    dark_threshold: int


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
        canvas.paste(img.resize((w, h), Image.Resampling.BILINEAR), ((self.size - w) // 2, (self.size - h) // 2))
        return canvas


def prepare_transform(image_size: int, crop_border: CropBorderOptions | None = None) -> T.Compose:
    """The deterministic part, PIL to PIL: border crop and letterbox (what the decoded-image cache stores)."""
    return T.Compose([*([CropBorder(**crop_border)] if crop_border else []), Letterbox(image_size)])


@dataclass(frozen=True)
class Augmentation:
    """The training augmentation recipe (`data.augment`), shared by the CPU transforms and `GPUAugmentation`.

    `rotation`: random turn of up to ± that many degrees (shells have no canonical orientation; 0 where all images
    share a frame, as micro-CT slices do); `flips`: horizontal and vertical; `color_jitter`: brightness and contrast
    change (saturation half of it, hue a tenth); `blur`: probability of a light Gaussian blur; `scale`: random zoom
    by a factor between 1 / (1 + scale) and 1 + scale (specimens of one species differ in size; 0 keeps size as a cue).
    """

    rotation: float = 180.0
    flips: bool = True
    color_jitter: float = 0.2
    blur: float = 0.3
    scale: float = 0.0

    def __post_init__(self):
        negative = [f.name for f in fields(self) if f.name != "flips" and getattr(self, f.name) < 0]
        if negative or self.blur > 1:
            raise ValueError(f"data.augment: {negative or ['blur']} must be >= 0 (blur a probability <= 1): {self}")

    @classmethod
    def from_options(cls, options: "Augmentation | dict | None") -> "Augmentation":
        # Unknown keys: config_check names them on the Hydra path, the dataclass's TypeError in direct use.
        if isinstance(options, Augmentation):
            return options
        return cls(**(options or {}))

    def jitter_ranges(self) -> dict:
        """ColorJitter arguments (torchvision and kornia take the same ones)."""
        j = self.color_jitter
        return dict(brightness=j, contrast=j, saturation=j / 2, hue=j / 10)

    def zoom_range(self) -> tuple[float, float]:
        return 1 / (1 + self.scale), 1 + self.scale


def augment_transform(augment: Augmentation | None, to_float: bool = True) -> T.Compose:
    """Prepared image to tensor, with the training augmentation `augment` (None: evaluation, deterministic).
    `to_float=False` keeps uint8 (GPU-side augmentation converts after the transfer)."""
    steps = []
    if augment is not None:
        # One resampling for turn and zoom; without zoom RandomRotation, whose draws earlier runs were made with.
        if augment.scale:
            steps.append(T.RandomAffine(augment.rotation, scale=augment.zoom_range()))
        elif augment.rotation:
            steps.append(T.RandomRotation(augment.rotation))
        if augment.flips:
            steps += [T.RandomHorizontalFlip(), T.RandomVerticalFlip()]
        if augment.color_jitter:
            steps.append(T.ColorJitter(**augment.jitter_ranges()))
        if augment.blur:
            steps.append(T.RandomApply([T.GaussianBlur(3, sigma=(0.1, 1.0))], p=augment.blur))
    steps += [T.ToImage(), *([T.ToDtype(torch.float32, scale=True)] if to_float else [])]
    return T.Compose(steps)


def build_transform(image_size: int, crop_border: CropBorderOptions | None = None,
                    augment: Augmentation | None = None) -> T.Compose:
    """File image to model input; without `augment` (evaluation) deterministic."""
    return T.Compose([prepare_transform(image_size, crop_border), augment_transform(augment)])

"""Load any microscope image as 8-bit RGB: grayscale, palette, RGBA, CMYK, 16-bit, EXIF-rotated."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp"}


def load_rgb(path, exif_transpose: bool = True) -> Image.Image:
    """`exif_transpose`: turn the image as its EXIF orientation tag says (right for camera photos). Images cut from
    published plates can carry a stale tag from the plate: in the radiolaria set 218 of 530 test images are tagged
    "rotate 90°" while their pixels are upright like the rest of their species (frozen-feature leave-one-out 1-NN
    accuracy 0.609 with the tag obeyed, 0.681 without)."""
    with Image.open(path) as img:
        if exif_transpose:
            img = ImageOps.exif_transpose(img)
        if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            # 16-bit and float images: stretch the used range to 8 bits instead of clipping at 255.
            arr = np.asarray(img, dtype=np.float32)
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
            img = Image.fromarray(arr.astype(np.uint8))
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            img = img.convert("RGBA")
            background = Image.new("RGBA", img.size, (0, 0, 0, 255))
            img = Image.alpha_composite(background, img)
        return img.convert("RGB")


def try_load_rgb(path, exif_transpose: bool = True) -> tuple[Image.Image | None, str]:
    """(image, "") or (None, "<error type>: <message>"): for callers that report a bad file instead of stopping."""
    try:
        return load_rgb(path, exif_transpose), ""
    except Exception as error:  # noqa: BLE001 - whatever the decoder says is the file's problem
        return None, f"{type(error).__name__}: {error}"

"""Load any microscope image as 8-bit RGB: grayscale, palette, RGBA, CMYK, 16-bit, EXIF-rotated."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def load_rgb(path) -> Image.Image:
    with Image.open(path) as img:
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

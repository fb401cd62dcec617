"""Small JPEG thumbnails of specimen images, for the review page and a library's own copy of its references."""

from __future__ import annotations

from pathlib import Path

from forams_lightning.data.images import load_rgb

QUALITY = 70  # ~1.2 KB at 64 px: a 10,000-specimen review stays under 30 MB


def save_thumbnail(source: str | Path, target: Path, size: int = 64, exif_transpose: bool = True) -> bool:
    """`source` reduced to fit `size` × `size` and written to `target` as JPEG; False where it cannot be read.

    Args:
        source: the image.
        target: the JPEG written.
        size: the thumbnail's largest side.
        exif_transpose: turned as its EXIF orientation says.
    """
    try:
        img = load_rgb(source, exif_transpose)
    except Exception:  # noqa: BLE001 - whatever the decoder says, the caller shows a grey box instead
        return False
    img.thumbnail((size, size))
    target.parent.mkdir(parents=True, exist_ok=True)
    img.save(target, format="JPEG", quality=QUALITY)
    return True

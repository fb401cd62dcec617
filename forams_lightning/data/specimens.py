"""New specimens to identify: find image files, and load them without letting one bad file stop the batch."""

from __future__ import annotations

import glob
from pathlib import Path

import torch
from torch.utils.data import Dataset

from forams_lightning.data.files import image_files, is_regular_file
from forams_lightning.data.images import IMAGE_EXTENSIONS, try_load_rgb


def find_images(images: str) -> list[str]:
    """A folder (searched recursively, `files.image_files`), a glob pattern, or one file; sorted."""
    path = Path(images).expanduser()
    if path.is_dir():
        found = image_files(path)
    elif path.exists():
        found = [path]
    else:
        found = [Path(p) for p in glob.glob(str(path), recursive=True)
                 if Path(p).suffix.lower() in IMAGE_EXTENSIONS and is_regular_file(p)]
        if not found and not glob.has_magic(str(path)):
            raise FileNotFoundError(f"images={images}: no such folder or file")
    if not found:
        raise FileNotFoundError(f"images={images}: no image files found "
                                f"(looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return sorted(str(p) for p in found)


class SpecimenDataset(Dataset):
    """Items are (image tensor or None, index, error message or ""): a file that cannot be read as an image is
    reported, not raised."""

    def __init__(self, paths: list[str], transform, exif_transpose: bool = True):
        self.paths, self.transform, self.exif_transpose = paths, transform, exif_transpose

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        img, error = try_load_rgb(self.paths[i], self.exif_transpose)
        return (self.transform(img) if img is not None else None), i, error


def collate_specimens(items):
    """(stacked good images or None, their indices, [(index, error)] of the bad ones)."""
    good = [(x, i) for x, i, err in items if not err]
    bad = [(i, err) for _, i, err in items if err]
    images = torch.stack([x for x, _ in good]) if good else None
    return images, [i for _, i in good], bad

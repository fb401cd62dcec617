"""Which sample each specimen image belongs to: one sub-folder per sample under the images folder, or a ``sample``
column in a CSV list of images (columns ``file``, optionally ``sample``; paths relative to the CSV's folder)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from forams_lightning.data.names import checked_name
from forams_lightning.data.specimens import find_images


def sample_images(images: str) -> tuple[list[str], list[str] | None]:
    """(files, the sample of each file, or None where the images do not come as samples): a folder whose images lie
    in sub-folders is one sample per first-level sub-folder (images directly in it: a sample named after it); a
    flat folder, a glob or one file is no census."""
    if not str(images or "").strip():
        raise ValueError("images is empty: give a folder, a glob in quotes, an image or a CSV list of images")
    path = Path(images).expanduser()
    if path.is_file() and path.suffix.lower() == ".csv":
        return listed_images(path)
    files = find_images(images)
    if not path.is_dir():
        return files, None
    parts = [Path(os.path.relpath(f, path)).parts for f in files]
    if all(len(p) == 1 for p in parts):
        return files, None
    names = [p[0] if len(p) > 1 else path.resolve().name for p in parts]
    for name in set(names):
        checked_name(name, f"images={images}: sample folder {name!r}")
    return files, names


def listed_images(path: Path) -> tuple[list[str], list[str] | None]:
    """The files a CSV lists, and their samples where it has a ``sample`` column (UTF-8, with or without a BOM)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            if "file" not in columns:
                raise ValueError(f"images={path}: a CSV list of images needs a 'file' column (it has {columns})")
            rows = list(reader)
    except UnicodeDecodeError as error:
        raise ValueError(f"images={path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    files, samples = [], []
    for line, row in enumerate(rows, start=2):
        file = (row.get("file") or "").strip()
        if not file:
            raise ValueError(f"{path}:{line}: empty file")
        files.append(str(Path(file) if Path(file).is_absolute() else path.parent / file))
        samples.append(checked_name((row.get("sample") or "").strip() or "(no sample)", f"{path}:{line}"))
    if not files:
        raise ValueError(f"images={path}: the CSV lists no files")
    return files, samples if "sample" in columns else None

"""Which sample each specimen image belongs to: one sub-folder per sample under the images folder, or a ``sample``
column in a CSV list of images (columns ``file``, optionally ``sample``; paths relative to the CSV's folder), and
where a sample lies in its core (an optional ``depth`` or ``age`` column of that list: one value a sample)."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
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


AXES = ("depth", "age")  # the columns a samples table may place its samples by (the first one present is used)


@dataclass(frozen=True)
class SamplePositions:
    """Each sample's depth or age (`axis`), as a samples table gives them."""

    axis: str
    values: dict[str, float]

    def order(self) -> list[str]:
        """Samples from the top of the core down (smallest depth or age first), ties by name."""
        return sorted(self.values, key=lambda s: (self.values[s], s))


def sample_positions(images: str) -> SamplePositions | None:
    """The depth or age of every sample of a CSV list of images (None where `images` is no such list or it has
    neither column). Each sample must have one finite value, the same on all its rows."""
    path = Path(str(images or "")).expanduser()
    if not (path.is_file() and path.suffix.lower() == ".csv"):
        return None
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        axis = next((a for a in AXES if a in (reader.fieldnames or [])), None)
        if axis is None or "sample" not in (reader.fieldnames or []):
            return None
        values: dict[str, tuple[float, int]] = {}
        for line, row in enumerate(reader, start=2):
            sample = (row.get("sample") or "").strip() or "(no sample)"
            value = _position(row.get(axis), f"{path}:{line}: {axis}")
            if values.setdefault(sample, (value, line))[0] != value:
                raise ValueError(f"{path}:{line}: sample {sample!r} is at {axis} {value:g} here but "
                                 f"{values[sample][0]:g} on line {values[sample][1]}; one {axis} a sample")
    return SamplePositions(axis, {s: v for s, (v, _) in values.items()})


def _position(text: str | None, where: str) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        raise ValueError(f"{where}={text!r}: expected a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}={text!r}: expected a finite number")
    return value

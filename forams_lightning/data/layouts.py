"""Read the supported input layouts into one table of samples (path, species, group).

- one folder per species: ``root/Genus_species/*.jpg`` (images may sit in sub-folders);
- the Endless Forams download: ``root/0 - Beella digitata/images/*.jpg``, with inconsistent spacing around the dash
  (``7- Globigerinita glutinata``, ``19-Globorotalia truncatulinoides``): the numeric prefix is not part of the name;
- a CSV manifest with a path column, a label column and optionally a group column (specimen, scan, slide): paths are
  relative to ``root`` or, as in manifests that list bare file names, to ``root/<label>``.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from forams_lightning.data.files import image_files
from forams_lightning.data.names import checked_name

log = logging.getLogger(__name__)

# An ordinal of up to three digits (Endless Forams numbers 0-34); a longer number ("2024-") is part of the name.
_NUMBER_PREFIX = re.compile(r"^\s*\d{1,3}\s*-\s*")


@dataclass(frozen=True)
class Sample:
    path: str
    species: str
    group: str | None = None
    class_split: str | None = None  # a species-level split given by the data (train / val / test classes)


def species_name(folder_name: str) -> str:
    """`'19-Globorotalia truncatulinoides'` -> `'Globorotalia truncatulinoides'`."""
    return _NUMBER_PREFIX.sub("", folder_name).strip()


def read_species_folders(root: str | Path, key: str = "data.root") -> list[Sample]:
    """One species per top-level folder of `root` (its images found by `files.image_files`); covers the Endless
    Forams download layout too. Folders starting with "." or "_" are not species (said once); a folder name that
    leaves no species name is refused; `key` names the option in messages."""
    root = _existing_dir(root, key)
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    skipped = [p.name for p in folders if p.name.startswith((".", "_"))]
    if skipped:
        log.warning("%s=%s: folders starting with '.' or '_' are not species, skipped: %s", key, root, skipped)
    samples: list[Sample] = []
    names: dict[str, str] = {}
    for folder in (p for p in folders if not p.name.startswith((".", "_"))):
        name = checked_name(species_name(folder.name), f"{key}={root}: folder {folder.name!r}")
        if not name:
            raise ValueError(f"{key}={root}: folder {folder.name!r} leaves no species name; rename it after its "
                             "species ('Genus species')")
        if name in names:
            log.warning("%s=%s: folders %r and %r are both species %r: their images are merged", key, root,
                        names[name], folder.name, name)
        names.setdefault(name, folder.name)
        files = image_files(folder)
        if not files:
            log.warning("species folder %s holds no images; skipped", folder)
            continue
        samples += [Sample(str(f), name) for f in files]
    if not samples:
        raise FileNotFoundError(f"no images found under {key}={root} (expected one folder per species)")
    renamed = [(folder, name) for name, folder in names.items() if folder != name]
    if renamed:
        log.info("%s=%s: %d folder names begin with an ordinal that is not part of the species' name (%r is %r)",
                 key, root, len(renamed), *renamed[0])
    return samples


class ManifestColumns(TypedDict, total=False):
    """`data.manifest_columns`: the column arguments of `read_manifest`."""

    path_column: str
    label_column: str
    group_column: str | None
    class_split_column: str | None


def read_manifest(
    manifest: str | Path,
    root: str | Path | None = None,
    path_column: str = "path",
    label_column: str = "label",
    *, group_column: str | None = None,
    class_split_column: str | None = None,
) -> list[Sample]:
    """Rows of a CSV manifest; `root` defaults to the manifest's folder.

    Args:
        manifest: the CSV file.
        root: the folder paths are relative to.
        path_column: the column of image paths.
        label_column: the column of species.
        group_column: a column of groups (a specimen, a scan) kept together by the split.
        class_split_column: a column naming each species' open-set part.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"data.manifest={manifest} does not exist")
    root = _existing_dir(root if root is not None else manifest.parent)
    with manifest.open(newline="") as f:
        reader = csv.DictReader(f)
        needed = [c for c in (path_column, label_column, group_column, class_split_column) if c]
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{manifest}: missing column(s) {missing}; it has {reader.fieldnames}. "
                             "Set data.manifest_columns.* to the right names.")
        rows = list(reader)
    samples: list[Sample] = []
    first_line: dict[str, int] = {}
    duplicates = 0
    resolved_root = root.resolve()
    for line, row in enumerate(rows, start=2):
        rel, label = (row[path_column] or "").strip(), (row[label_column] or "").strip()
        if not rel or not label:
            raise ValueError(f"{manifest}:{line}: empty {path_column!r} or {label_column!r}")
        candidates = [root / rel, root / label / rel]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(f"{manifest}:{line}: image {rel!r} not found under {root} or {root / label}")
        if not path.resolve().is_relative_to(resolved_root):
            raise ValueError(f"{manifest}:{line}: {rel!r} points outside data.root={root}; keep images under the root")
        key = str(path.resolve())
        if key in first_line:
            earlier = samples[first_line[key]]
            if earlier.species != label:
                raise ValueError(f"{manifest}:{line}: {rel!r} is labelled {label!r} here but {earlier.species!r} on "
                                 f"an earlier row; one image, one species")
            duplicates += 1
            continue
        first_line[key] = len(samples)
        samples.append(Sample(str(path), label, row[group_column].strip() if group_column else None,
                              row[class_split_column].strip() if class_split_column else None))
    if duplicates:
        log.warning("%s: %d duplicate row(s) ignored (same image, same species)", manifest, duplicates)
    return samples


def spelling_variants(species: list[str]) -> list[list[str]]:
    """Groups of species names that differ only in case, spaces or underscores ("G. ruber" written two ways):
    almost always one species labelled inconsistently."""
    groups: dict[str, set[str]] = {}
    for name in species:
        groups.setdefault(" ".join(name.replace("_", " ").lower().split()), set()).add(name)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def _existing_dir(path: str | Path | None, key: str = "data.root") -> Path:
    if path is None or not str(path).strip():  # an empty value would mean the current folder
        raise ValueError(f"{key} is empty; set {key}=/path/to/your/images")
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{key}={path} is not a folder; set {key} to your image library")
    return path

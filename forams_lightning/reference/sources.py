"""Where new references come from: labelled images from a folder or a CSV (the verdicts saved from review.html),
content hashes, and the checks that keep species names clean. Pure of models."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from forams_lightning.data.layouts import read_species_folders, spelling_variants
from forams_lightning.data.specimens import find_images


def file_sha1(path: str | Path) -> str:
    """Hash of the file's bytes ("" when it cannot be read): the same image under two names is one reference."""
    digest = hashlib.sha1()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def labelled_images(images: str, species: str | None = None) -> list[tuple[str, str]]:
    """(path, species) pairs from `images`: a CSV with columns ``file, species`` (paths relative to the CSV's folder,
    e.g. the verdicts saved from review.html), a folder of images of one `species`, or a folder with one sub-folder
    per species (as `data=folders` reads them)."""
    path = Path(images).expanduser()
    if path.is_file() and path.suffix.lower() == ".csv":
        if species:
            raise ValueError(f"images={images} is a CSV that names each file's species; drop species={species}")
        return _read_verdicts(path)
    if species:
        return [(f, species.strip()) for f in find_images(images)]
    if not path.is_dir():
        raise FileNotFoundError(f"images={images}: not a folder or a CSV (columns file, species)")
    return [(s.path, s.species) for s in read_species_folders(path)]


def _read_verdicts(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"file", "species"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}; it has {reader.fieldnames}")
        rows = list(reader)
    pairs = []
    for line, row in enumerate(rows, start=2):
        file, name = (row["file"] or "").strip(), (row["species"] or "").strip()
        if not file or not name:
            raise ValueError(f"{path}:{line}: empty file or species")
        resolved = Path(file) if Path(file).is_absolute() else path.parent / file
        pairs.append((str(resolved), name))
    return pairs


def refuse_spelling_variants(new: list[str], existing: list[str]) -> None:
    """Names that differ from another (new or existing) only in case, spaces or underscores are refused, naming both
    spellings: one species written two ways would split its references."""
    clashes = [g for g in spelling_variants(sorted(set(new) | set(existing))) if set(g) & set(new)]
    if clashes:
        shown = "; ".join(" vs ".join(repr(n) for n in group) for group in clashes)
        raise ValueError(f"species spelt two ways: {shown}; use the library's spelling (library show lists it)")

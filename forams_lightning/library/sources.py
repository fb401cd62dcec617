"""Where new references come from: labelled images from a folder or a CSV (the verdicts saved from review.html),
content hashes, and the checks that keep species names clean. Pure of models."""

from __future__ import annotations

import csv
import hashlib
import logging
from pathlib import Path

from forams_lightning.data.files import is_regular_file
from forams_lightning.data.layouts import read_species_folders, spelling_variants
from forams_lightning.data.names import checked_name
from forams_lightning.data.specimens import find_images

log = logging.getLogger(__name__)


def file_sha1(path: str | Path) -> str:
    """Hash of the file's bytes ("" when it cannot be read, or is no regular file: a FIFO or a device would never
    end): the same image under two names is one reference."""
    if not is_regular_file(path):
        return ""
    digest = hashlib.sha1()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def labelled_images(images: str, species: str | None = None) -> list[tuple[str, str]]:
    """(resolved path, species) pairs from `images`: a CSV with columns ``file, species`` (paths relative to the
    CSV's folder, e.g. the verdicts saved from review.html), a folder of images of one `species`, or a folder with
    one sub-folder per species (as `data=folders` reads them)."""
    path = Path(images).expanduser()
    if path.is_file() and path.suffix.lower() == ".csv":
        if species:
            raise ValueError(f"images={images} is a CSV that names each file's species; drop species={species}")
        return _read_verdicts(path)
    if species is not None:
        if not species.strip():
            raise ValueError("species= is empty; give the species' name")
        name = checked_name(species.strip(), "species=")
        return [(str(Path(f).resolve()), name) for f in find_images(images)]
    if not path.is_dir():
        raise FileNotFoundError(f"images={images}: not a folder or a CSV (columns file, species)")
    return [(str(Path(s.path).resolve()), s.species) for s in read_species_folders(path, key="images")]


def _read_verdicts(path: Path) -> list[tuple[str, str]]:
    """(file, species) of each row, paths resolved against the CSV's folder; exact repeats dropped (said), one file
    given two species refused naming both lines. UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8")."""
    rows = _csv_rows(path)
    first: dict[str, tuple[int, str]] = {}
    pairs, repeats = [], 0
    for line, row in enumerate(rows, start=2):
        file, name = (row.get("file") or "").strip(), (row.get("species") or "").strip()
        if not file or not name:
            raise ValueError(f"{path}:{line}: empty file or species")
        checked_name(name, f"{path}:{line}")
        resolved = str((Path(file) if Path(file).is_absolute() else path.parent / file).resolve())
        if resolved in first:
            earlier, species = first[resolved]
            if species != name:
                raise ValueError(f"{path}:{line}: {file!r} is {name!r} here but {species!r} on line {earlier}; "
                                 "one image, one species")
            repeats += 1
            continue
        first[resolved] = (line, name)
        pairs.append((resolved, name))
    if repeats:
        log.warning("%s: %d repeated row(s) dropped (same file, same species)", path, repeats)
    return pairs


def _csv_rows(path: Path) -> list[dict]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = {"file", "species"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: missing column(s) {sorted(missing)}; it has {reader.fieldnames}")
            return list(reader)
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8 (Excel: \"CSV UTF-8\")") \
            from None


def refuse_spelling_variants(new: list[str], existing: list[str]) -> None:
    """Names that differ from another (new or existing) only in case, spaces or underscores are refused, naming both
    spellings: one species written two ways would split its references."""
    clashes = [g for g in spelling_variants(sorted(set(new) | set(existing))) if set(g) & set(new)]
    if clashes:
        shown = "; ".join(" vs ".join(repr(n) for n in group) for group in clashes)
        raise ValueError(f"species spelt two ways: {shown}; use the library's spelling (library show lists it)")

"""A reference library on disk: everything `identify` needs, and nothing of the training config.

    manifest.json    format + version, species, kNN settings, novelty score and threshold, preprocessing, the embedder
                     described by plain arguments (`models.embedder.embedder_spec`), provenance (checkpoint, package
                     version, git commit, creation time), `calibration` (what the threshold was computed on) and
                     `history` (every change, `library.editing`)
    embedder.pt      state dict of backbone + head (of each member, `members.<i>.*`, for an ensemble)
    index.faiss      exact FAISS index over the reference embeddings
    references.csv   file (resolved), relative (the same from the library folder), species, label, sha1 (content
                     hash) of each reference, in index order
    thumbnails/      a 64-px JPEG of every reference, named by its sha1: the review shows it where the original is
                     not at its stored path (a library mailed to a colleague, images moved)

Loading reads every file as data: the manifest is checked field by field (`library.manifest`), `embedder.pt` holds
tensors only, and the network is built by the package's own classes from plain arguments the first time a file is
embedded (`library.stored_network`; weights of another network are refused then); a damaged or tampered file is
refused with one line naming it. A library changes only by a whole new folder renamed into place (`save_library`): a
kill leaves the old library or the new one.
"""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.library.grouping import Grouping
from forams_lightning.library.manifest import FORMAT, VERSION, read_manifest
from forams_lightning.library.reference_library import THUMBNAILS, ReferenceLibrary
from forams_lightning.library.sources import file_sha1
from forams_lightning.library.stored_network import StoredNetwork
from forams_lightning.metrics.novelty import NoveltyScore
from forams_lightning.metrics.novelty_thresholds import ThresholdModel
from forams_lightning.models.embedder import plain_spec
from forams_lightning.viz.thumbnails import save_thumbnail

log = logging.getLogger(__name__)

FILES = ("manifest.json", "embedder.pt", "index.faiss", "references.csv")
THUMBNAIL_SIZE = 64


def described(library: ReferenceLibrary) -> dict:
    """The manifest fields the library itself defines (everything else in a manifest is `info`)."""
    return {"format": FORMAT, "version": VERSION, "species": library.species, "metric": library.metric,
            "k": library.k, "novelty_threshold": library.threshold,
            "novelty_score": {"neighbours": library.novelty.neighbours, "scale_k": library.novelty.scale_k},
            "preprocessing": library.preprocessing, "embedder": library.embedder_spec,
            "embedding_dim": int(library.embeddings.shape[1]), "n_references": len(library.labels),
            "grouping": library.grouping.state() if library.grouping else None,
            "confusion": sparse_counts(library.confusion),
            "confusion_flagged": None if library.confusion_flagged is None else
            [[int(i), int(c)] for i, c in enumerate(library.confusion_flagged) if c],
            "novelty_thresholds": None if library.species_thresholds is None else
            [float(v) for v in library.species_thresholds],
            "novelty_model": library.threshold_model.state() if library.threshold_model else None}


def sparse_counts(confusion: np.ndarray | None) -> list[list[int]] | None:
    """[true, identified, count] of every non-zero cell (a few hundred numbers, not a species² matrix)."""
    if confusion is None:
        return None
    return [[int(i), int(j), int(confusion[i, j])] for i, j in zip(*np.nonzero(confusion))]


def dense_counts(cells: list | None, n_species: int) -> np.ndarray | None:
    if cells is None:
        return None
    counts = np.zeros((n_species, n_species), np.int64)
    for i, j, c in cells:
        counts[i, j] = c
    return counts


def _flagged_counts(pairs: list | None, n_species: int) -> np.ndarray | None:
    if pairs is None:
        return None
    counts = np.zeros(n_species, np.int64)
    for i, c in pairs:
        counts[i] = c
    return counts


def save_library(library: ReferenceLibrary, folder: str | Path) -> Path:
    """Written into a temporary sibling folder, then renamed into place: a kill leaves the old library or none. A
    write that fails (a full disk) removes its temporary folder and leaves the old library as it was; temporary
    folders of changes that were killed are removed first."""
    folder = Path(folder)
    remove_stale_temporaries(folder)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        _write_files(library, tmp, folder)
    except (OSError, RuntimeError) as error:  # torch.save reports a full disk as a RuntimeError
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(f"library={folder}: could not be written ({_reason(error, folder)}); nothing changed, the "
                      "temporary copy was removed") from None
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    library.folder = folder
    return folder


def _write_files(library: ReferenceLibrary, tmp: Path, folder: Path) -> None:
    import faiss

    (tmp / "manifest.json").write_text(json.dumps({**described(library), **library.info}, indent=2, default=str))
    torch.save(library.embedder.state_dict(), tmp / "embedder.pt")
    index = faiss.IndexFlatL2(library.embeddings.shape[1])
    index.add(np.ascontiguousarray(library.embeddings, dtype=np.float32))
    faiss.write_index(index, str(tmp / "index.faiss"))
    files = [str(Path(f).resolve()) for f in library.files]
    library.hashes = [h or file_sha1(f) for h, f in zip(library.hashes, files)]  # older libraries kept none
    atomic_write_csv(tmp / "references.csv", ["file", "relative", "species", "label", "sha1"],
                     [[f, _relative(f, folder), library.species[lab], int(lab), h]
                      for f, lab, h in zip(files, library.labels, library.hashes)])
    write_thumbnails(library, tmp / THUMBNAILS, folder / THUMBNAILS)


def _reason(error: Exception, folder: Path) -> str:
    """What went wrong, in words: the free space where the disk is (nearly) full."""
    try:
        free = shutil.disk_usage(folder.parent if folder.parent.exists() else ".").free
    except OSError:
        free = None
    if getattr(error, "errno", None) == errno.ENOSPC or (free is not None and free < 2**20):
        return f"no space left on its disk: {free / 2**20:.1f} MiB free" if free is not None else "no space left"
    return getattr(error, "strerror", None) or str(error).splitlines()[0][:200]


def remove_stale_temporaries(folder: Path) -> None:
    """Remove the `.NAME.tmp-PID` folders that changes killed before they finished left beside the library (their
    process is gone; a running change's own is kept)."""
    for tmp in folder.parent.glob(f".{folder.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
            log.info("removed %s, left by a change that was killed", tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_thumbnails(library: ReferenceLibrary, target: Path, previous: Path) -> None:
    """A thumbnail of every reference with a content hash: linked from the previous version of the library where it
    has one, else made from the image (a reference whose image is gone keeps none)."""
    target.mkdir()
    made = 0
    for file, digest in zip(library.files, library.hashes):
        name = target / f"{digest}.jpg"
        if not digest or name.exists():
            continue
        if (previous / name.name).is_file():
            link_or_copy(previous / name.name, name)
        else:
            made += save_thumbnail(file, name, THUMBNAIL_SIZE, library.preprocessing.get("exif_transpose", True))
    if made:
        log.info("%d reference thumbnails made (kept with the library for the review)", made)


def link_or_copy(source: str | Path, target: str | Path) -> None:
    """A hard link where the disk allows it, else a copy: a library's files are replaced by renaming, never written
    in place, so a link shared with an older version is safe and costs no copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _relative(file: str, folder: Path) -> str:
    """`file` from the library folder, so a tree moved as a whole (library and images) still finds its images."""
    try:
        return os.path.relpath(file, folder.resolve())
    except ValueError:  # another drive
        return ""


def load_library(folder: str | Path, device: str | torch.device = "cpu") -> ReferenceLibrary:
    """The library in `folder`, every file checked (module docstring)."""
    folder = Path(folder)
    _recover_interrupted_save(folder)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"library={folder} is not a reference library (missing {', '.join(missing)}); "
                                "build one with `python -m forams_lightning.export ckpt=...`")
    manifest = read_manifest(folder / "manifest.json")
    spec = manifest["embedder"]
    embedder = StoredNetwork(spec, folder, device)  # built the first time a file is embedded
    embeddings = _read_index(folder / "index.faiss")
    labels, files, hashes = _read_references(folder, len(embeddings), len(manifest["species"]))
    library = ReferenceLibrary(
        embedder=embedder, embedder_spec=plain_spec(spec), embeddings=embeddings, labels=labels,
        files=files, hashes=hashes, species=manifest["species"], metric=manifest["metric"], k=manifest["k"],
        threshold=float(manifest["novelty_threshold"]), novelty=NoveltyScore(**manifest.get("novelty_score", {})),
        preprocessing=manifest["preprocessing"], folder=folder,
        grouping=Grouping(**manifest["grouping"]) if manifest.get("grouping") else None,
        confusion=dense_counts(manifest.get("confusion"), len(manifest["species"])),
        confusion_flagged=_flagged_counts(manifest.get("confusion_flagged"), len(manifest["species"])),
        species_thresholds=None if manifest.get("novelty_thresholds") is None else
        np.asarray(manifest["novelty_thresholds"], float),
        threshold_model=ThresholdModel(**manifest["novelty_model"]) if manifest.get("novelty_model") else None)
    library.info = {k: v for k, v in manifest.items() if k not in described(library)}
    return library


def _read_index(path: Path) -> np.ndarray:
    import faiss

    try:
        index = faiss.read_index(str(path))
        return index.reconstruct_n(0, index.ntotal)
    except RuntimeError:
        raise ValueError(f"{path}: not a readable FAISS index (damaged or truncated)") from None


def _read_references(folder: Path, n: int, n_species: int) -> tuple[np.ndarray, list[str], list[str]]:
    """Labels, files and hashes of references.csv, checked against the index and the species list. A file that is
    not at its stored path but is at its path relative to the library (the tree moved as a whole) is taken there."""
    path = folder / "references.csv"
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        labels = np.array([int(r["label"]) for r in rows], dtype=int)
        files = [_located(folder, r["file"], r.get("relative")) for r in rows]
    except (UnicodeDecodeError, KeyError, TypeError, ValueError, csv.Error):
        raise ValueError(f"{path}: expected columns file, species, label (a whole number), sha1; the file is "
                         "damaged") from None
    if len(rows) != n:
        raise ValueError(f"{path}: {len(rows)} rows but index.faiss holds {n} vectors")
    if len(labels) and not (0 <= labels.min() and labels.max() < n_species):
        raise ValueError(f"{path}: a label outside the manifest's {n_species} species")
    return labels, files, [r.get("sha1") or "" for r in rows]


def _located(folder: Path, file: str, relative: str | None) -> str:
    if relative and not os.path.exists(file):
        moved = os.path.normpath(folder / relative)
        if os.path.exists(moved):
            return moved
    return file


def missing_originals(library: ReferenceLibrary) -> int:
    """How many reference images are not at their stored paths (the review shows the library's thumbnails)."""
    return sum(not os.path.exists(f) for f in library.files)


def _recover_interrupted_save(folder: Path) -> None:
    """`save_library` renames the old library aside, then the new one into place; a kill between the two renames
    leaves only the old one, aside: put it back."""
    if folder.exists():
        return
    aside = sorted(folder.parent.glob(f".{folder.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if aside and all((aside[-1] / name).is_file() for name in FILES):
        aside[-1].rename(folder)
        log.warning("%s: restored the library an interrupted change had moved aside (%s)", folder, aside[-1].name)

"""Grow and correct a reference library without retraining: new species from a few images, an expert's verdicts,
references removed or relabelled, the novelty threshold recalibrated.

Each change holds the library's lock (`library.lock`), reads the library, embeds only the new images with the
library's own network and preprocessing, appends a `history` entry to its manifest and saves a whole new folder
renamed into place. Plain Python arguments: a script edits a library as the `library` command does.

    from forams_lightning.library.editing import add_references
    library, entry = add_references("my_library", "new_species/", species="Globigerina bulloides")
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from forams_lightning.library.embedding import Inference
from forams_lightning.library.lock import library_lock
from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.library.sources import file_sha1, labelled_images, refuse_spelling_variants
from forams_lightning.library.storage import load_library, save_library
from forams_lightning.runs import package_version

log = logging.getLogger(__name__)


def add_references(folder: str | Path, images: str, species: str | None = None,
                   inference: Inference = Inference()) -> tuple[ReferenceLibrary, dict]:
    """Add `images` (a folder with one sub-folder per species, a CSV of ``file, species`` such as review.html's
    verdicts, or a folder of one `species`); images already in the library (same bytes) and unreadable ones are
    skipped with a warning.

    Args:
        folder: the library's folder.
        images: a folder of species folders, a CSV (file, species), or a folder of one `species`.
        species: the species of a folder of one species.
        inference: how the new images are embedded.
    """
    def change(library: ReferenceLibrary) -> tuple[ReferenceLibrary, dict]:
        if not images:
            raise ValueError("add needs images=DIR (one folder per species), images=CSV (file, species) or "
                             "images=DIR species=NAME")
        pairs = labelled_images(images, species)
        refuse_spelling_variants([s for _, s in pairs], library.species)
        fresh, duplicates = _not_yet_references(library, pairs)
        embeddings, good, bad = library.embed([p for p, _, _ in fresh], inference, "new references")
        fresh = [fresh[i] for i in good]
        if not fresh:
            raise ValueError(f"images={images}: nothing added ({len(bad)} unreadable or missing, {duplicates} "
                             "already references; see the warnings above)")
        new_species = sorted({s for _, s, _ in fresh} - {s for s, n in library.counts().items() if n})
        changed = library.with_references(embeddings, [s for _, s, _ in fresh], [p for p, _, _ in fresh],
                                          [h for _, _, h in fresh])
        return changed, {"source": str(images), "added": len(fresh), "new_species": new_species,
                         "duplicates_skipped": duplicates, "unreadable_skipped": len(bad),
                         "threshold": _threshold_note(library)}

    return _edit(folder, "add", change)


def remove_references(folder: str | Path, species: str | None = None,
                      files: Sequence[str] | None = None) -> tuple[ReferenceLibrary, dict]:
    """Remove every reference of `species`, or the references stored under `files`."""
    def change(library: ReferenceLibrary) -> tuple[ReferenceLibrary, dict]:
        if bool(species) == bool(files):
            raise ValueError("remove needs species=NAME or files=[...] (one of them)")
        if species:
            if species not in library.species:
                raise ValueError(f"species={species!r} is not in the library; library show lists its species")
            drop = library.labels == library.species.index(species)
        else:
            drop = np.zeros(len(library.files), bool)
            drop[reference_indices(library, files or [])] = True
        return library.subset(~drop), {"source": species or list(files or []), "removed": int(drop.sum()),
                                       "threshold": _threshold_note(library)}

    return _edit(folder, "remove", change)


def relabel_references(folder: str | Path, files: Sequence[str] | None = None, species: str | None = None,
                       images: str | None = None) -> tuple[ReferenceLibrary, dict]:
    """Move the references `files` to `species`, or each reference a CSV (`images`: ``file, species``) lists to its
    species.

    Args:
        folder: the library's folder.
        files: the references to move (as listed in references.csv, or resolving to them).
        species: their new species.
        images: a CSV (file, species) instead.
    """
    def change(library: ReferenceLibrary) -> tuple[ReferenceLibrary, dict]:
        if images:
            pairs = labelled_images(images)
        elif files and species:
            pairs = [(f, species) for f in files]
        else:
            raise ValueError("relabel needs files=[...] species=NAME, or images=CSV (file, species)")
        refuse_spelling_variants([s for _, s in pairs], library.species)
        indices = reference_indices(library, [p for p, _ in pairs])
        return library.relabelled(indices, [s for _, s in pairs]), {
            "source": str(images or list(files or [])), "relabelled": len(indices),
            "threshold": _threshold_note(library)}

    return _edit(folder, "relabel", change)


def recalibrate(folder: str | Path, images: str, species: str | None = None, keep_known: float = 0.95,
                *, inference: Inference = Inference()) -> tuple[ReferenceLibrary, dict]:
    """The novelty threshold from labelled images of species the library knows: the novelty score that keeps
    `keep_known` of them (images that are references themselves are left out: their distance is 0); the confusion a
    census adjusts for is counted on them too.

    Args:
        folder: the library's folder.
        images: labelled images of known species (a folder of species folders, or a CSV).
        species: their species, where `images` is a folder of one species.
        keep_known: the share of them the threshold keeps as known.
        inference: how they are embedded.
    """
    def change(library: ReferenceLibrary) -> tuple[ReferenceLibrary, dict]:
        if not images:
            raise ValueError("calibrate needs images=DIR (one folder per known species) or images=CSV "
                             "(file, species)")
        references = {h for h in _reference_hashes(library) if h}
        pairs = [(p, s) for p, s in labelled_images(images, species) if file_sha1(p) not in references]
        unknown = sorted({s for _, s in pairs} - {s for s, n in library.counts().items() if n})
        if unknown:
            raise ValueError(f"images={images}: species the library has no references of: {unknown}")
        embeddings, good, _ = library.embed([p for p, _ in pairs], inference, "calibration images")
        if len(good) < 2:
            raise ValueError(f"images={images}: need at least 2 readable images that are not references")
        before, changed = library.threshold, library.subset(np.ones(len(library.files), bool))
        changed.calibrate(embeddings, np.array([changed.species.index(pairs[i][1]) for i in good]), keep_known)
        changed.info["calibration"] = {"source": str(images), "n_queries": len(good), "keep_known": keep_known,
                                       "when": _now()}
        return changed, {"source": str(images),
                         "threshold": f"recalibrated: {before:.4f} -> {changed.threshold:.4f}"}

    return _edit(folder, "calibrate", change)


def apply_verdicts(folder: str | Path, verdicts: Sequence[tuple[str, str, np.ndarray, str]], ours: set[str],
                   source: str) -> tuple[ReferenceLibrary, dict]:
    """The library in step with a live review's verdicts (file, species, embedding, sha1): each verdict's file a
    reference of its species (added with the embedding given, or relabelled), and every file of `ours` (the sample's
    files that were not references before the review) that has no verdict now removed (an undone verdict). An image
    that is already a reference (same bytes) is not added twice. References another user added meanwhile stay.

    Args:
        folder: the library's folder.
        verdicts: (file, species, embedding, sha1) of every verdict of the review.
        ours: the sample's files that were not references before the review.
        source: what the history entry names as the change's source.
    """
    def change(library: ReferenceLibrary) -> tuple[ReferenceLibrary, dict]:
        wanted = {f: (s, e, h) for f, s, e, h in verdicts}
        drop = np.array([f in ours and f not in wanted for f in library.files], bool)
        changed = library.subset(~drop) if drop.any() else library
        at = {f: i for i, f in enumerate(changed.files)}
        moved = [(at[f], s) for f, (s, _, _) in wanted.items()
                 if f in at and changed.species[changed.labels[at[f]]] != s]
        if moved:
            changed = changed.relabelled([i for i, _ in moved], [s for _, s in moved])
        known = {h for h in changed.hashes if h}
        fresh = [(f, s, e, h) for f, (s, e, h) in wanted.items() if f not in at and not (h and h in known)]
        if fresh:
            changed = changed.with_references(np.stack([e for _, _, e, _ in fresh]), [s for _, s, _, _ in fresh],
                                              [f for f, _, _, _ in fresh], [h for _, _, _, h in fresh])
        return changed, {"source": source, "added": len(fresh), "relabelled": len(moved),
                         "removed": int(drop.sum()), "threshold": _threshold_note(library)}

    return _edit(folder, "review", change)


def history_entry(command: str, changed: ReferenceLibrary, fields: dict) -> dict:
    """What a library's `history` records of a change: when, which command with what, the references after it and
    the package version that made it."""
    return {"when": _now(), "command": command, **fields, "references_after": len(changed.files),
            "package_version": package_version()}


def _edit(folder: str | Path, command: str,
          change: Callable[[ReferenceLibrary], tuple[ReferenceLibrary, dict]]) -> tuple[ReferenceLibrary, dict]:
    """Under the library's lock: load, change, record the change in `history`, save."""
    with library_lock(folder):
        changed, entry = change(load_library(folder))
        changed.info.setdefault("history", []).append(history_entry(command, changed, entry))
        save_library(changed, folder)
    log.info("%s: %s -> %d references of %d species", command,
             ", ".join(f"{k} {v}" for k, v in entry.items() if k != "source"), len(changed.files),
             sum(n > 0 for n in changed.counts().values()))
    return changed, entry


def _not_yet_references(library: ReferenceLibrary,
                        pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str, str]], int]:
    """(path, species, hash) of the images not yet in the library (nor twice among `pairs`), and how many were."""
    known = {h for h in _reference_hashes(library) if h}
    fresh, duplicates = [], 0
    for path, name in pairs:
        digest = file_sha1(path)
        if digest and digest in known:
            log.warning("skipped %s: the same image is already a reference", path)
            duplicates += 1
            continue
        known.add(digest)
        fresh.append((path, name, digest))
    return fresh, duplicates


def _reference_hashes(library: ReferenceLibrary) -> list[str]:
    """The stored hashes, filling in those of references saved before hashes were kept (where the file is still
    there)."""
    library.hashes = [h or file_sha1(f) for h, f in zip(library.hashes, library.files)]
    return library.hashes


def reference_indices(library: ReferenceLibrary, files: Sequence[str]) -> list[int]:
    """Indices of the references stored under these paths (as written, or resolved); an unknown one is an error."""
    where = {f: i for i, f in enumerate(library.files)}
    where.update({str(Path(f).resolve()): i for i, f in enumerate(library.files)})
    indices, missing = [], []
    for f in files:
        i = where.get(str(f), where.get(str(Path(f).expanduser().resolve())))
        (missing.append(f) if i is None else indices.append(i))
    if missing:
        raise ValueError(f"not references of this library: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return indices


def _threshold_note(library: ReferenceLibrary) -> str:
    source = (library.info.get("calibration") or {}).get("source", "the training run's validation split")
    return f"kept at {library.threshold:.4f} (calibrated on {source}; library calibrate recomputes it)"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

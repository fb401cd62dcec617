"""Writing a newly exported library where one may already be: a library that grew or was corrected since it was
exported (`library add`, `remove`, `relabel`, `calibrate`: its `history`) holds an expert's verdicts, the most
expensive data the tool keeps, so it is never replaced silently.

    refuse   (default) one line naming the library's history; nothing written
    merge    the new network and calibration, with the grown library's added references (re-embedded), its
             relabellings and its removals carried over
    replace  the new build as it is

`merge` and `replace` keep the previous version beside it, as ``NAME.before-export-<time>``. A folder that is not a
library is never replaced."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from forams_lightning.library.editing import history_entry
from forams_lightning.library.embedding import Inference
from forams_lightning.library.lock import library_lock
from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.library.storage import FILES, link_or_copy, load_library, save_library

log = logging.getLogger(__name__)

GROWN = ("refuse", "merge", "replace")


def place_library(library: ReferenceLibrary, folder: str | Path, grown: str = "refuse",
                  inference: Inference = Inference()) -> Path:
    """Save `library` into `folder` (under its lock), as `grown` says where a changed library is there.

    Args:
        library: the newly built library.
        folder: where it goes.
        grown: what to do where a library that grew since it was exported is there (`GROWN`).
        inference: how a grown library's added references are embedded again (``merge``).
    """
    check_target(folder, grown)
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with library_lock(folder):
        history = _existing_history(folder)
        if history:
            if grown == "refuse":
                raise ValueError(_refusal(folder, history))
            if grown == "merge":
                library = merge_growth(library, load_library(folder), inference)
            backup = _keep_previous(folder)
            log.warning("library=%s had %d changes since it was exported: %s; the previous version is kept in %s",
                        folder, len(history), "merged into the new one" if grown == "merge" else "replaced", backup)
        check_free_space(library, folder)
        return save_library(library, folder)


def check_free_space(library: ReferenceLibrary, folder: Path) -> None:
    """Refuse before writing where the library will not fit on its disk (its network, index and thumbnails, twice
    over while the new version replaces the old)."""
    weights = sum(p.numel() * p.element_size() for p in library.embedder.state_dict().values())
    need = 2 * (weights + library.embeddings.nbytes + 4096 * len(library.files)) + 2**20
    free = shutil.disk_usage(folder.parent).free
    if free < need:
        raise OSError(f"library={folder}: needs about {need / 2**20:.0f} MiB on its disk, {free / 2**20:.1f} MiB "
                      "free; nothing written (free space, or choose out=DIR on another disk)")


def check_target(folder: str | Path, grown: str = "refuse") -> None:
    """The refusals of `place_library`, made before the minutes of building a library: an unknown `grown`, a
    folder that is not a library, a changed library with ``grown=refuse``."""
    if grown not in GROWN:
        raise ValueError(f"grown={grown!r}: one of {', '.join(GROWN)}")
    history = _existing_history(Path(folder))
    if history and grown == "refuse":
        raise ValueError(_refusal(Path(folder), history))


def _existing_history(folder: Path) -> list[dict]:
    """The changes recorded in the library at `folder` (none where there is no folder); a folder that holds
    something other than a library is refused."""
    if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
        return []
    if not all((folder / name).is_file() for name in FILES):
        raise ValueError(f"out={folder} exists and is not a reference library: export into a new folder (out=DIR)")
    return load_library(folder).info.get("history") or []


def _refusal(folder: Path, history: list[dict]) -> str:
    changes = ", ".join(f"{h.get('command')} {h.get('when', '')}".strip() for h in history[-3:])
    return (f"library={folder} has changed since it was exported ({len(history)} changes: "
            f"{'... ' if len(history) > 3 else ''}{changes}); exporting would lose them. Use out=DIR for a new "
            "library, grown=merge to carry the changes into the new one, or grown=replace (both keep the old "
            "version beside it)")


def _keep_previous(folder: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    backup = folder.with_name(f"{folder.name}.before-export-{stamp}")
    shutil.copytree(folder, backup, copy_function=link_or_copy)
    return backup


def merge_growth(new: ReferenceLibrary, grown: ReferenceLibrary, inference: Inference = Inference()
                 ) -> ReferenceLibrary:
    """`new` (a fresh export) with what `grown` changed: references `grown` holds and `new` lacks are embedded by
    `new`'s network and added; where both hold an image (same bytes), `grown`'s species wins (a relabelling); images
    `grown`'s history removed stay out. Its history is kept, with the merge recorded."""
    species_of = {h: grown.species[lab] for h, lab in zip(grown.hashes, grown.labels) if h}
    removed_files, removed_species = _removed(grown)
    keep = np.array([h in species_of or not (str(Path(f).resolve()) in removed_files
                                             or new.species[lab] in removed_species)
                     for h, f, lab in zip(new.hashes, new.files, new.labels)], bool)
    merged = new.subset(keep)
    moved = [(i, species_of[h]) for i, (h, lab) in enumerate(zip(merged.hashes, merged.labels))
             if h in species_of and species_of[h] != merged.species[lab]]
    if moved:
        merged = merged.relabelled([i for i, _ in moved], [s for _, s in moved])
    have = set(merged.hashes)
    extra = [i for i, h in enumerate(grown.hashes) if h not in have]
    embeddings, good, bad = merged.embed([grown.files[i] for i in extra], inference, "grown references")
    if bad:
        raise ValueError(f"library={grown.folder}: {len(bad)} of its added references cannot be read "
                         f"(e.g. {grown.files[extra[bad[0][0]]]}); merging would lose them, so nothing was written. "
                         "Put the images back, or export into a new folder (out=DIR)")
    extra = [extra[i] for i in good]
    merged = merged.with_references(embeddings, [grown.species[grown.labels[i]] for i in extra],
                                    [grown.files[i] for i in extra], [grown.hashes[i] for i in extra])
    entry = history_entry("export (merge)", merged, {"carried": len(extra), "relabelled": len(moved),
                                                     "kept_out": int((~keep).sum())})
    merged.info["history"] = [*(grown.info.get("history") or []), entry]
    log.info("merged the grown library: %d added references carried, %d relabelled, %d removed kept out",
             len(extra), len(moved), int((~keep).sum()))
    return merged


def _removed(library: ReferenceLibrary) -> tuple[set[str], set[str]]:
    """Files and species a library's history removed (`library.editing.remove_references` records either)."""
    files: set[str] = set()
    species: set[str] = set()
    for entry in library.info.get("history") or []:
        if entry.get("command") == "remove":
            source = entry.get("source")
            if isinstance(source, list):
                files.update(str(Path(f).resolve()) for f in source)
            elif isinstance(source, str):
                species.add(source)
    return files, species

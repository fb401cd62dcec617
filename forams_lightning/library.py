"""Grow and correct a reference library without retraining: new species from a few images, an expert's verdicts.

    python -m forams_lightning.library show library=DIR
    python -m forams_lightning.library add library=DIR images=DIR                # one sub-folder per species
    python -m forams_lightning.library add library=DIR images=verdicts.csv       # columns file, species (review.html)
    python -m forams_lightning.library add library=DIR images=DIR species="Genus species"
    python -m forams_lightning.library remove library=DIR species=NAME           # or files=[a.jpg,b.jpg]
    python -m forams_lightning.library relabel library=DIR files=[a.jpg] species=NAME   # or images=CSV
    python -m forams_lightning.library calibrate library=DIR images=DIR         # labelled images of known species

New references are embedded with the library's own network and preprocessing; existing ones are never re-embedded.
Every change is a new library folder renamed into place and a `history` entry in its manifest.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig, ListConfig

from forams_lightning.cli import entry_point

log = logging.getLogger(__name__)

COMMANDS = ("show", "add", "remove", "relabel", "calibrate")


def run(cfg: DictConfig):
    """Runs `cfg.command`; returns the changed library (or the shown one)."""
    from forams_lightning.reference.library import ReferenceLibrary

    if cfg.command not in COMMANDS:
        raise ValueError(f"command={cfg.command!r}: one of {', '.join(COMMANDS)}")
    library = ReferenceLibrary.load(cfg.library)
    if cfg.command == "show":
        print(describe(library))
        return library
    changed, entry = {"add": add, "remove": remove, "relabel": relabel, "calibrate": calibrate}[cfg.command](
        library, cfg)
    changed.info.setdefault("history", []).append(
        {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": cfg.command, **entry,
         "references_after": len(changed.files)})
    changed.save(cfg.library)
    log.info("%s: %s -> %d references of %d species", cfg.command,
             ", ".join(f"{k} {v}" for k, v in entry.items() if k != "source"), len(changed.files),
             sum(n > 0 for n in changed.counts().values()))
    return changed


def add(library, cfg: DictConfig):
    from forams_lightning.reference.editing import file_sha1, labelled_images, refuse_spelling_variants

    if not cfg.images:
        raise ValueError("add needs images=DIR (one folder per species), images=CSV (file, species) or images=DIR "
                         "species=NAME")
    pairs = labelled_images(cfg.images, cfg.species)
    refuse_spelling_variants([s for _, s in pairs], library.species)
    known = {h for h in _reference_hashes(library) if h}
    fresh, duplicates = [], []
    for path, species in pairs:
        digest = file_sha1(path)
        if digest and digest in known:
            duplicates.append(path)
            continue
        known.add(digest)
        fresh.append((path, species, digest))
    for path in duplicates:
        log.warning("skipped %s: the same image is already a reference", path)
    embeddings, good, bad = _embed(library, [p for p, _, _ in fresh], cfg)
    fresh = [fresh[i] for i in good]
    new_species = sorted({s for _, s, _ in fresh} - {s for s, n in library.counts().items() if n})
    changed = library.with_references(embeddings, [s for _, s, _ in fresh], [p for p, _, _ in fresh],
                                      [h for _, _, h in fresh])
    return changed, {"source": str(cfg.images), "added": len(fresh), "new_species": new_species,
                     "duplicates_skipped": len(duplicates), "unreadable_skipped": len(bad),
                     "threshold": _threshold_note(library)}


def remove(library, cfg: DictConfig):
    if bool(cfg.species) == bool(cfg.files):
        raise ValueError("remove needs species=NAME or files=[...] (one of them)")
    if cfg.species:
        if cfg.species not in library.species:
            raise ValueError(f"species={cfg.species!r} is not in the library; library show lists its species")
        drop = library.labels == library.species.index(cfg.species)
    else:
        drop = np.zeros(len(library.files), bool)
        drop[_reference_indices(library, cfg.files)] = True
    return library.subset(~drop), {"source": cfg.species or list(cfg.files), "removed": int(drop.sum()),
                                   "threshold": _threshold_note(library)}


def relabel(library, cfg: DictConfig):
    from forams_lightning.reference.editing import labelled_images, refuse_spelling_variants

    if cfg.images:
        pairs = labelled_images(cfg.images)
    elif cfg.files and cfg.species:
        pairs = [(f, cfg.species) for f in _as_list(cfg.files)]
    else:
        raise ValueError("relabel needs files=[...] species=NAME, or images=CSV (file, species)")
    refuse_spelling_variants([s for _, s in pairs], library.species)
    indices = _reference_indices(library, [p for p, _ in pairs])
    return library.relabelled(indices, [s for _, s in pairs]), {
        "source": str(cfg.images or list(_as_list(cfg.files))), "relabelled": len(indices),
        "threshold": _threshold_note(library)}


def calibrate(library, cfg: DictConfig):
    """The novelty threshold from labelled images of species the library knows: the novelty score (the library's
    `novelty_score`) that keeps `keep_known` of them (images that are references themselves are left out: their
    distance is 0)."""
    from forams_lightning.reference.editing import file_sha1, labelled_images

    if not cfg.images:
        raise ValueError("calibrate needs images=DIR (one folder per known species) or images=CSV (file, species)")
    references = {h for h in _reference_hashes(library) if h}
    pairs = [(p, s) for p, s in labelled_images(cfg.images, cfg.species) if file_sha1(p) not in references]
    unknown = sorted({s for _, s in pairs} - {s for s, n in library.counts().items() if n})
    if unknown:
        raise ValueError(f"images={cfg.images}: species the library has no references of: {unknown}")
    embeddings, good, _ = _embed(library, [p for p, _ in pairs], cfg)
    if len(good) < 2:
        raise ValueError(f"images={cfg.images}: need at least 2 readable images that are not references")
    before = library.threshold
    changed = library.subset(np.ones(len(library.files), bool))
    changed.threshold = float(np.quantile(library.novelty(embeddings), cfg.keep_known))
    changed.info["calibration"] = {"source": str(cfg.images), "n_queries": len(good), "keep_known": cfg.keep_known,
                                   "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return changed, {"source": str(cfg.images), "threshold": f"recalibrated: {before:.4f} -> {changed.threshold:.4f}"}


def describe(library) -> str:
    """Species and counts, provenance, calibration and history, as text."""
    counts = library.counts()
    lines = [f"{len(library.files)} references of {sum(n > 0 for n in counts.values())} species, "
             f"{library.metric} {library.k}-NN, novelty threshold {library.threshold:.4f} on "
             f"{_novelty_text(library)}"]
    calibration = library.info.get("calibration") or {}
    if calibration:
        lines.append("threshold calibrated on " + ", ".join(f"{k} {v}" for k, v in calibration.items()))
    for key in ("created", "checkpoint", "run_dir", "package_version", "git_commit"):
        if key in library.info:
            lines.append(f"{key}: {library.info[key]}")
    width = max(len(s) for s in counts) if counts else 0
    lines += ["", "species".ljust(width) + "  references", *(f"{s.ljust(width)}  {n}" for s, n in counts.items())]
    history = library.info.get("history") or []
    if history:
        lines += ["", "history:", *(" - " + ", ".join(f"{k} {v}" for k, v in h.items()) for h in history)]
    return "\n".join(lines)


def _embed(library, paths: list[str], cfg: DictConfig):
    from forams_lightning.reference.embedding import embed_files

    if not paths:
        return np.zeros((0, library.embeddings.shape[1]), np.float32), [], []
    return embed_files(library.embedder, paths, library.transform(), library.preprocessing.get("exif_transpose", True),
                       cfg.batch_size, cfg.num_workers, cfg.device, description="new references")


def _reference_hashes(library) -> list[str]:
    """The stored hashes, filling in those of references exported before hashes were kept (where the file is
    still there)."""
    from forams_lightning.reference.editing import file_sha1

    library.hashes = [h or file_sha1(f) for h, f in zip(library.hashes, library.files)]
    return library.hashes


def _reference_indices(library, files) -> list[int]:
    """Indices of the references stored under these paths (as written, or resolved); an unknown one is an error."""
    where = {f: i for i, f in enumerate(library.files)}
    where.update({str(Path(f).resolve()): i for i, f in enumerate(library.files)})
    indices, missing = [], []
    for f in _as_list(files):
        i = where.get(str(f), where.get(str(Path(f).expanduser().resolve())))
        (missing.append(f) if i is None else indices.append(i))
    if missing:
        raise ValueError(f"not references of this library: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return indices


def _as_list(files) -> list[str]:
    return [str(f) for f in files] if isinstance(files, (list, tuple, ListConfig)) else [str(files)]


def _novelty_text(library) -> str:
    n, scale_k = library.novelty_score.get("neighbours", 1), library.novelty_score.get("scale_k", 0)
    text = "the distance to the nearest reference" if n == 1 else f"the mean distance to the {n} nearest references"
    return text + (f", each in units of the reference's spread ({scale_k} nearest)" if scale_k else "")


def _threshold_note(library) -> str:
    source = (library.info.get("calibration") or {}).get("source", "the training run's validation split")
    return f"kept at {library.threshold:.4f} (calibrated on {source}; library calibrate recomputes it)"


@hydra.main(version_base="1.3", config_path="../conf", config_name="library")
@entry_point
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:  # `library add ...` reads as `library command=add ...`
        sys.argv[1] = f"command={sys.argv[1]}"
    main()

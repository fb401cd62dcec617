"""Build a reference library from a trained checkpoint (or an ensemble of them): the network, the training images as
references, the novelty threshold and the confusion calibrated on held-out images of the known species, and the cut
that groups novel specimens calibrated on species the embedding was not fitted on.

    from forams_lightning.library.build import build_library
    from forams_lightning.library.storage import save_library
    library, run_dir = build_library("logs/closed_set/runs/<date>/checkpoints/<best>.ckpt")
    save_library(library, run_dir / "library")
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from forams_lightning.checkpoints import load_checkpoint
from forams_lightning.data.catalogue import Catalogue
from forams_lightning.data.reading import read_catalogue
from forams_lightning.data.transforms import build_transform
from forams_lightning.evaluation.calibration import CalibrationSets
from forams_lightning.evaluation.species_count import SpeciesCount
from forams_lightning.library.embedding import Inference, embed_files
from forams_lightning.library.grouping import Grouping, calibrate_grouping, calibration_sets
from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.library.sources import file_sha1
from forams_lightning.metrics.novelty import NoveltyScore
from forams_lightning.metrics.reranking import Reranking
from forams_lightning.models.embedder import load_embedders
from forams_lightning.runs import git_commit, package_version
from forams_lightning.saved_runs import read_run_configs

log = logging.getLogger(__name__)


def build_library(ckpt: str | Sequence[str], run_dir: str | None = None, reference_parts: Sequence[str] = ("train",),
                  keep_known: float = 0.95, *, k: int | None = None, metric: str | None = None,
                  novelty: Mapping | None = None, inference: Inference = Inference(),
                  calibration_parts: Sequence[str] | None = None) -> tuple[ReferenceLibrary, Path]:
    """(library, run folder) of a checkpoint, or of a list of them (an ensemble; the run folder is the first
    member's). The data and the split come from the run folder (`config.yaml`, `split.csv`); references are the
    images of `reference_parts`. `k`, `metric` and the `novelty` score's settings (`neighbours`, `scale_k`: those
    given override) default to the run's evaluation settings. `calibration_parts` (default: every held-out split)
    are the splits the novelty thresholds and the census' confusion are counted on.

    Args:
        ckpt: a checkpoint, a run folder (its best checkpoint) or a list of them (an ensemble library).
        run_dir: the run folder, where it is not the checkpoint's.
        reference_parts: the splits whose images become references.
        keep_known: the share of held-out images of known species the novelty thresholds keep.
        k: the vote's neighbours (default: the run's).
        metric: ``cosine`` or ``l2`` (default: the run's).
        novelty: the novelty score's settings (``neighbours``, ``scale_k``) over the run's.
        inference: how images are embedded.
        calibration_parts: the splits the thresholds and the confusion are counted on (default: every held-out one).
    """
    held = [p for p in (calibration_parts or []) if p in reference_parts]
    if held:
        raise ValueError(f"calibration_parts={list(calibration_parts or [])}: {held} are references (reference_parts="
                         f"{list(reference_parts)}); their novelty score would be 0")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be a whole number >= 1 (got {k!r})")
    NoveltyScore(**(novelty or {}))  # its values checked before the run is read
    runs = read_run_configs(ckpt, run_dir)
    first, folder, run = runs[0]
    catalogue = read_catalogue(run.data, folder / "split.csv", inference.num_workers)
    embedder, spec = load_embedders([(c, r) for c, _, r in runs])
    preprocessing = _preprocessing(run.data)
    files = [f for part in reference_parts for f in catalogue.paths(part)]
    labels = np.array([lab for part in reference_parts for lab in catalogue.part_labels(part)])
    embeddings, good, _ = embed_files(embedder, files,
                                      build_transform(preprocessing["image_size"],
                                                                       preprocessing["crop_border"]),
                                      preprocessing["exif_transpose"], inference=inference, description="references")
    files = [files[i] for i in good]
    closed, open_set = _evaluation_settings(run)
    library = ReferenceLibrary(
        embedder=embedder, embedder_spec=spec, embeddings=embeddings, labels=labels[good], files=files,
        species=list(catalogue.species), metric=metric or closed.get("metric", "cosine"),
        k=int(closed.get("k", 5) if k is None else k),
        novelty=NoveltyScore(**{**open_set.get("novelty", {}), **(novelty or {})}), preprocessing=preprocessing,
        info=_provenance(runs, reference_parts), hashes=[file_sha1(f) for f in files])
    calibration = CalibrationSets.from_checkpoint(load_checkpoint(first)) if len(runs) == 1 else None
    _calibrate(library, catalogue, calibration_parts or [p for p in ("val", "test") if p not in reference_parts],
               keep_known, inference=inference, calibration=calibration, open_set=open_set)
    return library, folder


def run_part(library: ReferenceLibrary, part: str) -> tuple[list[str], np.ndarray]:
    """The files of a part (``test``, ``unknown_test``, ...) of the training run a single-network library was built
    from, and their species as indices into the library's species (for measuring a library on held-out images)."""
    runs = read_run_configs(library.info["checkpoint"], library.info["run_dir"])
    _, run_dir, run = runs[0]
    catalogue = read_catalogue(run.data, run_dir / "split.csv")
    labels = [library.species.index(catalogue.species[i]) for i in catalogue.part_labels(part)]
    return catalogue.paths(part), np.array(labels, dtype=int)


def _calibrate(library: ReferenceLibrary, catalogue: Catalogue, held_parts: Sequence[str], keep_known: float,
               *, inference: Inference, calibration: CalibrationSets | None, open_set: dict) -> None:
    """The novelty thresholds (that keep `keep_known` of the held-out images of the known species), the confusion
    a census adjusts for, and the clustering cut of candidate new species, on every held-out image of the run that
    is not a reference (its score would be 0): the validation and the test split. The test images count most: the
    validation split chose the checkpoint, its images sit closer to the references than a new specimen does (on
    the embedded library a threshold from them alone flagged 10% of new specimens of known species, from the test
    split 5%: experiments/census)."""
    held_parts = [p for p in held_parts if catalogue.paths(p)]
    held_out = None
    if not held_parts:
        log.warning("no held-out images of the known species to calibrate on: no novelty threshold (no specimen "
                    "will be flagged novel) and no confusion for a census to adjust for")
        library.info["calibration"] = {"part": None, "n_queries": 0, "keep_known": keep_known}
    else:
        files = [f for p in held_parts for f in catalogue.paths(p)]
        labels = np.concatenate([np.asarray(catalogue.part_labels(p), int) for p in held_parts])
        queries, good, _ = library.embed(files, inference, "calibration")
        held_out = (queries, labels[good])
        library.calibrate(*held_out, keep_known)
        part = "+".join(held_parts)
        library.info["calibration"] = {"source": f"the training run's {part} split", "part": part,
                                       "n_queries": len(queries), "keep_known": keep_known}
    library.grouping = _grouping(library, calibration, held_out, open_set)


def _grouping(library: ReferenceLibrary, calibration: CalibrationSets | None,
              held_out: tuple[np.ndarray, np.ndarray] | None, open_set: dict) -> Grouping | None:
    """The cut of candidate new species, with the run's open-set clustering settings (`library.grouping`)."""
    sets, share, source = calibration_sets(calibration, held_out)
    if not sets:
        log.warning("no labelled species to calibrate the grouping of novel specimens on: identify will not group")
        return None
    if calibration is None or not calibration.sets:
        log.warning("grouping of novel specimens calibrated on %s: the groups may split new species more than the "
                    "open-set recipe's library would (its run keeps species the embedding was not fitted on)", source)
    grouping = calibrate_grouping(sets, library.metric, SpeciesCount(**open_set.get("species_count", {})),
                                  Reranking(**{k: v for k, v in open_set.get("reranking", {}).items()
                                               if k.startswith("expansion")}),
                                  share=share, source=source)
    log.info("novel specimens grouped at %s linkage, cut %.4f (calibrated on %s)", grouping.linkage,
             grouping.threshold, source)
    return grouping


def _evaluation_settings(run: DictConfig) -> tuple[dict, dict]:
    """The run's closed-set and open-set protocol settings (empty where it had none)."""
    callbacks = run.get("callbacks") or {}
    closed = (callbacks.get("knn_evaluation") or {}).get("protocol") or {}
    open_set = (callbacks.get("open_set_evaluation") or {}).get("protocol") or {}
    return _plain(closed), _plain(open_set)


def _plain(settings: Any) -> dict:
    plain = OmegaConf.to_container(OmegaConf.create(settings))
    return plain if isinstance(plain, dict) else {}


def _preprocessing(data: DictConfig) -> dict:
    crop_border = data.get("crop_border")
    return {"image_size": int(data.image_size),
            "crop_border": OmegaConf.to_container(crop_border) if crop_border else None,
            "exif_transpose": bool(data.get("exif_transpose", True))}


def _provenance(runs: list[tuple[Path, Path, DictConfig]], reference_parts: Sequence[str]) -> dict:
    """Checkpoint and run folder of the library's network (lists of them for an ensemble), and when and by what."""
    names = {"checkpoint": [str(c.resolve()) for c, _, _ in runs], "run_dir": [str(d.resolve()) for _, d, _ in runs]}
    return {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **({k: v[0] for k, v in names.items()} if len(runs) == 1 else names),
            "reference_parts": list(reference_parts), "package_version": package_version(),
            "git_commit": git_commit()}

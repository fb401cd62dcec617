"""Build a reference library from a trained checkpoint (or an ensemble of them): the network, the training images as
references, and the novelty threshold calibrated on held-out images of the known species.

    from forams_lightning.reference.build import build_library
    from forams_lightning.reference.storage import save_library
    library, run_dir = build_library("logs/closed_set/runs/<date>/checkpoints/<best>.ckpt")
    save_library(library, run_dir / "library")
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from forams_lightning.data.catalogue import Catalogue
from forams_lightning.data.reading import read_catalogue
from forams_lightning.data.transforms import build_transform
from forams_lightning.metrics.novelty import NoveltyScore
from forams_lightning.models.embedder import load_embedders
from forams_lightning.reference.embedding import Inference, embed_files
from forams_lightning.reference.reference_library import ReferenceLibrary
from forams_lightning.reference.sources import file_sha1
from forams_lightning.runs import git_commit, package_version
from forams_lightning.saved_runs import read_run_configs

log = logging.getLogger(__name__)


def build_library(ckpt: str | Sequence[str], run_dir: str | None = None, reference_parts: Sequence[str] = ("train",),
                  keep_known: float = 0.95, k: int | None = None, metric: str | None = None,
                  novelty: Mapping | None = None,
                  inference: Inference = Inference()) -> tuple[ReferenceLibrary, Path]:
    """(library, run folder) of a checkpoint, or of a list of them (an ensemble; the run folder is the first
    member's). The data and the split come from the run folder (`config.yaml`, `split.csv`); references are the
    images of `reference_parts`. `k`, `metric` and the `novelty` score's settings (`neighbours`, `scale_k`: those
    given override) default to the run's evaluation settings."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be a whole number >= 1 (got {k!r})")
    NoveltyScore(**(novelty or {}))  # its values checked before the run is read
    runs = read_run_configs(ckpt, run_dir)
    ckpt, run_dir, run = runs[0]
    catalogue = read_catalogue(run.data, run_dir / "split.csv", inference.num_workers)
    embedder, spec = load_embedders([(c, r) for c, _, r in runs])
    preprocessing = _preprocessing(run.data)
    files = [f for part in reference_parts for f in catalogue.paths(part)]
    labels = np.array([lab for part in reference_parts for lab in catalogue.part_labels(part)])
    embeddings, good, _ = embed_files(embedder, files, build_transform(preprocessing["image_size"],
                                                                       preprocessing["crop_border"]),
                                      preprocessing["exif_transpose"], inference, "references")
    files = [files[i] for i in good]
    closed, open_set = _evaluation_settings(run)
    library = ReferenceLibrary(
        embedder=embedder, embedder_spec=spec, embeddings=embeddings, labels=labels[good], files=files,
        species=list(catalogue.species), metric=metric or closed.get("metric", "cosine"),
        k=int(closed.get("k", 5) if k is None else k),
        novelty=NoveltyScore(**{**open_set.get("novelty", {}), **(novelty or {})}), preprocessing=preprocessing,
        info=_provenance(runs, reference_parts), hashes=[file_sha1(f) for f in files])
    _calibrate(library, catalogue, reference_parts, keep_known, inference)
    return library, run_dir


def _calibrate(library: ReferenceLibrary, catalogue: Catalogue, parts: Sequence[str], keep_known: float,
               inference: Inference) -> None:
    """The novelty threshold: the score that keeps `keep_known` of the held-out images of the known species. They
    must not be references themselves (their score would be 0): the validation split, or the test split where the
    validation images are references."""
    part = next((p for p in ("val", "test") if p not in parts and catalogue.paths(p)), None)
    if part is None:
        log.warning("no held-out images of the known species (reference_parts=%s): no novelty threshold (no "
                    "specimen will be flagged novel)", list(parts))
        library.info["calibration"] = {"part": None, "n_queries": 0, "keep_known": keep_known}
        return
    queries, _, _ = library.embed(catalogue.paths(part), inference, "calibration")
    library.threshold = float(np.quantile(library.novelty_scores(queries), keep_known))
    library.info["calibration"] = {"source": f"the training run's {part} split", "part": part,
                                   "n_queries": len(queries), "keep_known": keep_known}


def _evaluation_settings(run) -> tuple[dict, dict]:
    """The run's closed-set and open-set protocol settings (empty where it had none)."""
    callbacks = run.get("callbacks") or {}
    closed = (callbacks.get("knn_evaluation") or {}).get("protocol") or {}
    open_set = (callbacks.get("open_set_evaluation") or {}).get("protocol") or {}
    return OmegaConf.to_container(OmegaConf.create(closed)), OmegaConf.to_container(OmegaConf.create(open_set))


def _preprocessing(data) -> dict:
    crop_border = data.get("crop_border")
    return {"image_size": int(data.image_size),
            "crop_border": OmegaConf.to_container(crop_border) if crop_border else None,
            "exif_transpose": bool(data.get("exif_transpose", True))}


def _provenance(runs, reference_parts: Sequence[str]) -> dict:
    """Checkpoint and run folder of the library's network (lists of them for an ensemble), and when and by what."""
    names = {"checkpoint": [str(c.resolve()) for c, _, _ in runs], "run_dir": [str(d.resolve()) for _, d, _ in runs]}
    return {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **({k: v[0] for k, v in names.items()} if len(runs) == 1 else names),
            "reference_parts": list(reference_parts), "package_version": package_version(),
            "git_commit": git_commit()}

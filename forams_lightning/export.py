"""Build a reference library from a trained checkpoint (embedder, FAISS index, labels, novelty threshold).

    python -m forams_lightning.export ckpt=logs/train/runs/<date>/checkpoints/<best>.ckpt
    -> <run folder>/library (or out=DIR); then: python -m forams_lightning.identify library=DIR images=...
    python -m forams_lightning.export ckpt=[<run a>/checkpoints/<best>.ckpt,<run b>/...] out=DIR
    -> a library whose embedder is the ensemble of those runs (same split; see forams_lightning.eval)

The data and the split come from the run folder (`config.yaml`, `split.csv`): references are the training images,
and the novelty threshold is the novelty score (`metrics.novelty.novelty_distance`, set as in the run's open-set
evaluation unless `novelty_neighbours`/`novelty_scale_k` say otherwise) that keeps `keep_known` of the validation
images (of the test images where `reference_parts` includes val).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig, ListConfig

from forams_lightning.cli import entry_point

log = logging.getLogger(__name__)


def export(cfg: DictConfig) -> Path:
    if isinstance(cfg.ckpt, ListConfig) and len(cfg.ckpt) > 1 and not cfg.out:
        raise ValueError("ckpt=[...] (an ensemble library) needs out=DIR: it belongs to no single run folder")
    options = {k: cfg[k] for k in ("run_dir", "reference_parts", "keep_known", "k", "metric", "novelty_neighbours",
                                   "novelty_scale_k", "batch_size", "num_workers", "device")}
    library, run_dir = build_library(cfg.ckpt, **options)
    out = library.save(cfg.out or run_dir / "library")
    log.info("reference library: %d references of %d species, novelty threshold %.4f (%s) -> %s",
             len(library.files), len(set(library.labels.tolist())), library.threshold, library.metric, out)
    return out


def build_library(ckpt: str | list[str], run_dir: str | None = None, reference_parts=("train",),
                  keep_known: float = 0.95, k: int | None = None, metric: str | None = None,
                  novelty_neighbours: int | None = None, novelty_scale_k: int | None = None, batch_size: int = 64,
                  num_workers: int = 2, device: str = "auto"):
    """(ReferenceLibrary, run folder) of a checkpoint, or of a list of them (an ensemble; the run folder is the
    first member's); see the module docstring."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf, open_dict

    from forams_lightning.data.transforms import build_transform
    from forams_lightning.models.embedder import load_embedders
    from forams_lightning.reference.editing import file_sha1
    from forams_lightning.reference.embedding import embed_files
    from forams_lightning.reference.library import ReferenceLibrary
    from forams_lightning.runs import git_commit, package_version, read_run_configs

    for key, value in (("k", k), ("novelty_neighbours", novelty_neighbours)):
        if value is not None and value < 1:
            raise ValueError(f"{key} must be at least 1 (got {value})")
    runs = read_run_configs(ckpt, run_dir)
    ckpt, run_dir, run = runs[0]
    with open_dict(run):
        run.data.num_workers = num_workers
    datamodule = instantiate(run.data)
    datamodule.prepare_data()
    datamodule.setup("test")
    embedder, spec = load_embedders([(c, r) for c, _, r in runs])

    exif = bool(run.data.get("exif_transpose", True))
    crop_border = run.data.get("crop_border")
    transform = build_transform(run.data.image_size, crop_border)
    options = dict(exif_transpose=exif, batch_size=batch_size, num_workers=num_workers, device=device)
    files = [f for part in reference_parts for f in datamodule.paths(part)]
    labels = np.array([lab for part in reference_parts for lab in datamodule.part_labels(part)])
    references, good, _ = embed_files(embedder, files, transform, description="references", **options)
    files, labels = [files[i] for i in good], labels[good]

    knn = run.get("callbacks", {}).get("knn_evaluation") or {}
    metric, k = metric or knn.get("metric", "cosine"), int(knn.get("k", 5) if k is None else k)
    open_set = run.get("callbacks", {}).get("open_set_evaluation") or {}
    novelty = {"neighbours": int(open_set.get("novelty_neighbours", 1) if novelty_neighbours is None
                                 else novelty_neighbours),
               "scale_k": int(open_set.get("novelty_scale_k", 0) if novelty_scale_k is None else novelty_scale_k)}
    library = ReferenceLibrary(
        embedder=embedder, embedder_spec=spec, embeddings=references, labels=labels, files=files,
        hashes=[file_sha1(f) for f in files], novelty_score=novelty,
        species=list(datamodule.species), metric=metric, k=k,
        preprocessing={"image_size": int(run.data.image_size),
                       "crop_border": OmegaConf.to_container(crop_border) if crop_border else None,
                       "exif_transpose": exif},
        info={"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              **_provenance([(c, d) for c, d, _ in runs]), "reference_parts": list(reference_parts),
              "package_version": package_version(), "git_commit": git_commit()})
    # Calibration images must not be references themselves (their score would be 0): the validation split, or the
    # test split where the validation images are references.
    part = next((p for p in ("val", "test") if p not in reference_parts and datamodule.paths(p)), None)
    if part is None:
        log.warning("no held-out images of the known species (reference_parts=%s): no novelty threshold (no "
                    "specimen will be flagged novel)", list(reference_parts))
        library.info["calibration"] = {"part": None, "n_queries": 0, "keep_known": keep_known}
    else:
        queries, _, _ = embed_files(embedder, datamodule.paths(part), transform, description="calibration",
                                    **options)
        library.threshold = float(np.quantile(library.novelty(queries), keep_known))
        library.info["calibration"] = {"source": f"the training run's {part} split", "part": part,
                                       "n_queries": len(queries), "keep_known": keep_known}
    return library, run_dir


def _provenance(runs: list[tuple[Path, Path]]) -> dict:
    """Checkpoint and run folder of the library's network, or lists of them for an ensemble."""
    names = {"checkpoint": [str(c.resolve()) for c, _ in runs], "run_dir": [str(d.resolve()) for _, d in runs]}
    return {k: v[0] for k, v in names.items()} if len(runs) == 1 else names


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
@entry_point
def main(cfg: DictConfig) -> None:
    export(cfg)


if __name__ == "__main__":
    main()

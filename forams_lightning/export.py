"""Build a reference library from a trained checkpoint (embedder, FAISS index, labels, novelty threshold).

    python -m forams_lightning.export ckpt=logs/closed_set/runs/<date>/checkpoints/<best>.ckpt
    -> <run folder>/library (or out=DIR); then: python -m forams_lightning.identify library=DIR images=...
    python -m forams_lightning.export ckpt=[<run a>/checkpoints/<best>.ckpt,<run b>/...] out=DIR
    -> a library whose embedder is the ensemble of those runs (same split; see forams_lightning.eval)

What it builds: `library.build.build_library`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, ListConfig

from forams_lightning.cli import answer_version, entry_point

log = logging.getLogger(__name__)


def export(cfg: DictConfig) -> Path:
    from forams_lightning.library.build import build_library
    from forams_lightning.library.embedding import Inference
    from forams_lightning.library.replacing import check_target, place_library

    if isinstance(cfg.ckpt, ListConfig) and len(cfg.ckpt) > 1 and not cfg.out:
        raise ValueError("ckpt=[...] (an ensemble library) needs out=DIR: it belongs to no single run folder")
    if cfg.out or not isinstance(cfg.ckpt, ListConfig):  # refusals before minutes of embedding
        check_target(cfg.out or _run_folder(cfg) / "library", cfg.grown)
    novelty = {k: cfg[f"novelty_{k}"] for k in ("neighbours", "scale_k") if cfg[f"novelty_{k}"] is not None}
    inference = Inference(cfg.batch_size, cfg.num_workers, cfg.device, str(cfg.precision))
    library, run_dir = build_library(list(cfg.ckpt) if isinstance(cfg.ckpt, ListConfig) else cfg.ckpt, cfg.run_dir,
                                     list(cfg.reference_parts), cfg.keep_known, k=cfg.k, metric=cfg.metric,
                                     novelty=novelty, inference=inference,
                                     calibration_parts=_parts(cfg.calibration_parts))
    out = place_library(library, cfg.out or run_dir / "library", cfg.grown, inference)
    log.info("reference library: %d references of %d species, novelty threshold %.4f (%s) -> %s",
             len(library.files), len(set(library.labels.tolist())), library.threshold, library.metric, out)
    return out


def _run_folder(cfg: DictConfig) -> Path:
    """The training run folder a single checkpoint's library goes into by default (as `saved_runs` reads it)."""
    ckpt = Path(cfg.ckpt)
    return Path(cfg.run_dir) if cfg.run_dir else ckpt if ckpt.is_dir() else ckpt.parent.parent


def _parts(value) -> list[str] | None:
    """A split name or a list of them (null: the default)."""
    return None if value is None else [str(value)] if isinstance(value, str) else [str(v) for v in value]


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
@entry_point
def main(cfg: DictConfig) -> None:
    export(cfg)


if __name__ == "__main__":
    answer_version()
    main()

"""Identify new specimens against a reference library: predictions.csv and review.html in the output folder.

    python -m forams_lightning.identify library=DIR images=FOLDER_OR_GLOB

What it does: `reference.identification.identify_files` (for scripts), then `viz.review.write_review`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from forams_lightning.cli import entry_point

log = logging.getLogger(__name__)


def identify(cfg: DictConfig) -> Path:
    """Returns the predictions.csv path. Unreadable files get a row with their error; the rest complete."""
    from forams_lightning.data.specimens import find_images
    from forams_lightning.reference.embedding import Inference
    from forams_lightning.reference.identification import IdentifySettings, identify_files
    from forams_lightning.reference.storage import load_library
    from forams_lightning.viz.review import write_review

    start = time.perf_counter()
    settings = IdentifySettings(cfg.k, cfg.vote, instantiate(cfg.reranking))
    inference = Inference(cfg.batch_size, cfg.num_workers, cfg.device)
    library = load_library(cfg.library, inference.torch_device())
    files = find_images(cfg.images)
    out = Path(cfg.paths.output_dir)
    results = identify_files(library, files, out / "predictions.csv", settings, inference)
    if cfg.review.enabled:
        specimens = results.specimens(files, library)
        write_review(out, specimens, results.failures, title=f"Review: {cfg.images}", species=library.species,
                     n_novel=specimens.n_novel, thumbnail_size=cfg.review.thumbnail_size,
                     rows_per_page=cfg.review.rows_per_page,
                     exif_transpose=library.preprocessing.get("exif_transpose", True))
    if not results.n:
        raise ValueError(f"images={cfg.images}: none of the {len(files)} files could be read as an image (their "
                         f"errors are in {out / 'predictions.csv'})")
    seconds = time.perf_counter() - start
    log.info("%d identified (%d flagged novel), %d unreadable in %.1f s (%.0f images/s, library load and review "
             "included) -> %s", results.n, results.n_novel, len(results.failures), seconds,
             len(files) / max(seconds, 1e-9), out / "predictions.csv")
    return out / "predictions.csv"


@hydra.main(version_base="1.3", config_path="../conf", config_name="identify")
@entry_point
def main(cfg: DictConfig) -> None:
    identify(cfg)


if __name__ == "__main__":
    main()

"""What `python -m forams_lightning.identify` does (and `review` with images= before it opens): identify new
specimens against a reference library into a run folder: predictions.csv, the sample's embeddings (for the live
review), groups.csv (candidate new species), census.csv/.png (where the images come as samples) and review.html.

What it calls: `reference.identification.identify_files` (for scripts), then `reference.novel_groups.write_groups`,
`reference.census.write_census` and `viz.review.write_review`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig

log = logging.getLogger(__name__)

BYTES_PER_SPECIMEN = 8192  # a predictions row, its review thumbnail and its share of the pages (measured: ~5 KiB)


def identify(cfg: DictConfig) -> Path:
    """Returns the predictions.csv path. Unreadable files get a row with their error; the rest complete."""
    from forams_lightning.data.samples import sample_images
    from forams_lightning.reference.embedding import Inference
    from forams_lightning.reference.identification import IdentifySettings, identify_files
    from forams_lightning.reference.sample_embeddings import EmbeddingWriter, SampleEmbeddings, embedder_fingerprint
    from forams_lightning.reference.storage import load_library
    from forams_lightning.runs import require_free_space

    start = time.perf_counter()
    settings = IdentifySettings(cfg.k, cfg.vote, instantiate(cfg.reranking), cfg.groups)
    inference = Inference(cfg.batch_size, cfg.num_workers, cfg.device, str(cfg.precision))
    library = load_library(cfg.library, inference.torch_device())
    if inference.bf16(inference.torch_device()):
        log.info("embedding with bfloat16 autocast (precision=%s; precision=32 for fp32)", inference.precision)
    files, samples = sample_images(cfg.images)
    out = Path(cfg.paths.output_dir)
    need = 2**20 + len(files) * (BYTES_PER_SPECIMEN + 4 * library.embeddings.shape[1])  # + its embedding
    require_free_space(out, need, f"the outputs of {len(files)} specimens")
    keep = EmbeddingWriter(out, len(files), library.embeddings.shape[1])
    try:
        results = identify_files(library, files, out / "predictions.csv", settings, inference, keep)
    except BaseException:
        keep.discard()
        raise
    keep.close(SampleEmbeddings(files, samples, np.zeros((0, 0)), str(Path(cfg.library).resolve()),
                                embedder_fingerprint(cfg.library), str(cfg.images)))
    _write_outputs(cfg, out, results, files, samples, library)
    if not results.n:
        raise ValueError(f"images={cfg.images}: none of the {len(files)} files could be read as an image (their "
                         f"errors are in {out / 'predictions.csv'})")
    seconds = time.perf_counter() - start
    log.info("%d identified (%d flagged novel, %d candidate groups), %d unreadable in %.1f s (%.0f images/s, library "
             "load and review included) -> %s", results.n, results.n_novel,
             len(results.groups.summaries) if results.groups else 0, len(results.failures), seconds,
             len(files) / max(seconds, 1e-9), out / "predictions.csv")
    return out / "predictions.csv"


def _write_outputs(cfg: DictConfig, out: Path, results, files: list[str], samples: list[str] | None,
                   library) -> None:
    """groups.csv (where specimens were grouped), census.csv/.png (where the images came as samples), review.html."""
    from forams_lightning.data.samples import sample_positions
    from forams_lightning.reference.census_tables import write_census
    from forams_lightning.reference.novel_groups import write_groups
    from forams_lightning.viz.review import write_review

    groups = results.groups
    if groups is not None:
        write_groups(out / "groups.csv", groups, files, results.index, library)
    if samples is not None:
        positions = sample_positions(cfg.images)
        order = positions.order() if positions else None
        write_census(out, results.census(files, samples, library, order), library.species, positions)
    if cfg.review.enabled:
        kept = np.load(out / "embeddings.npy", mmap_mode="r")  # written by identify, read back as data
        specimens = results.specimens(files, library, cfg.review.order, kept)
        write_review(out, specimens, results.failures, title=f"Review: {cfg.images}", species=library.species,
                     n_novel=specimens.n_novel, thumbnail_size=cfg.review.thumbnail_size,
                     rows_per_page=cfg.review.rows_per_page,
                     exif_transpose=library.preprocessing.get("exif_transpose", True),
                     groups=groups.for_review(files, results.index, library.species) if groups else [])

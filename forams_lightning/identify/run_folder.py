"""What `identify` writes into a run folder, as plain Python (the `identify` command and `review images=...` call
it; a script does the same): predictions.csv, the sample's embeddings (for the live review), groups.csv (candidate
new species), census.csv/.png (where the images come as samples) and review.html.

    from forams_lightning.identify import identify_sample
    identified = identify_sample("runs/forams/library", "specimens/core_12", "runs/core_12")
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forams_lightning.identify.identified import IdentifiedSample
from forams_lightning.identify.settings import IdentifySettings
from forams_lightning.library.embedding import Inference
from forams_lightning.library.reference_library import ReferenceLibrary

log = logging.getLogger(__name__)

BYTES_PER_SPECIMEN = 8192  # a predictions row, its review thumbnail and its share of the pages (measured: ~5 KiB)


@dataclass(frozen=True)
class ReviewPages:
    """The static review pages (`identify.review_page`): written or not, their order, thumbnail size, page size."""

    enabled: bool = True
    order: str = "benefit"
    thumbnail_size: int = 64
    rows_per_page: int = 200


def identify_sample(library: str | Path, images: str, out: str | Path, settings: IdentifySettings = IdentifySettings(),
                    *, inference: Inference = Inference(), pages: ReviewPages = ReviewPages()) -> IdentifiedSample:
    """Identifies the images `images` names (a folder, a glob, an image or a CSV list) against the library in the
    folder `library`, writing the run folder `out`. Unreadable files get a row with their error; the rest complete;
    where none is readable, the run folder is written and a ValueError says so.

    Args:
        library: the reference library's folder.
        images: the specimens (`data.samples.sample_images`; one sub-folder per sample gives a census).
        out: the run folder.
        settings: the vote, its re-ranking and which specimens are grouped.
        inference: how the images are embedded.
        pages: the static review pages.
    """
    from forams_lightning.data.samples import sample_images
    from forams_lightning.library.storage import load_library
    from forams_lightning.runs import require_free_space

    start, out = time.perf_counter(), Path(out)
    loaded = load_library(library, inference.torch_device())
    if inference.bf16(inference.torch_device()):
        log.info("embedding with bfloat16 autocast (precision=%s; precision=32 for fp32)", inference.precision)
    files, samples = sample_images(images)
    need = 2**20 + len(files) * (BYTES_PER_SPECIMEN + 4 * loaded.embeddings.shape[1])  # + its embedding
    require_free_space(out, need, f"the outputs of {len(files)} specimens")
    identified = _identify_keeping(loaded, files, samples, out, settings=settings, inference=inference, images=images,
                                   folder=Path(library))
    _write_outputs(out, identified, images, pages)
    if not len(identified.identified()):
        raise ValueError(f"images={images}: none of the {len(files)} files could be read as an image (their "
                         f"errors are in {out / 'predictions.csv'})")
    seconds = time.perf_counter() - start
    log.info("%d identified (%d flagged novel, %d candidate groups), %d unreadable in %.1f s (%.0f images/s, library "
             "load and review included) -> %s", len(identified.identified()), int(identified.flagged().sum()),
             len(identified.groups or []), len(identified.errors), seconds, len(files) / max(seconds, 1e-9),
             out / "predictions.csv")
    return identified


def _identify_keeping(library: ReferenceLibrary, files: list[str], samples: list[str] | None, out: Path,
                      *, settings: IdentifySettings, inference: Inference, images: str,
                      folder: Path) -> IdentifiedSample:
    """`identify_files`, every embedding kept in the run folder (`identify.sample_embeddings`); a failure removes
    the partial file."""
    from forams_lightning.identify.files import identify_files
    from forams_lightning.identify.sample_embeddings import EmbeddingWriter, SampleEmbeddings, embedder_fingerprint

    keep = EmbeddingWriter(out, len(files), library.embeddings.shape[1])
    try:
        identified = identify_files(library, files, settings, inference=inference, samples=samples, keep=keep)
    except BaseException:
        keep.discard()
        raise
    keep.close(SampleEmbeddings(files, samples, np.zeros((0, 0)), str(folder.resolve()),
                                embedder_fingerprint(folder), str(images)))
    return identified


def _write_outputs(out: Path, identified: IdentifiedSample, images: str, pages: ReviewPages) -> None:
    """predictions.csv and groups.csv, the census (where the images came as samples), review.html."""
    from forams_lightning.identify.census_files import write_sample_census
    from forams_lightning.identify.review_page import write_review_pages
    from forams_lightning.identify.tables import write_tables

    write_tables(out, identified)
    write_sample_census(out, identified, images)
    if pages.enabled:
        kept = np.load(out / "embeddings.npy", mmap_mode="r")  # written by identify, read back as data
        write_review_pages(out, identified, title=f"Review: {images}", order=pages.order, embeddings=kept,
                           thumbnail_size=pages.thumbnail_size, rows_per_page=pages.rows_per_page)

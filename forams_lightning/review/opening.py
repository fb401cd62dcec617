"""Opening a live review on an `identify` run folder: its kept embeddings (computed once where the folder has none, or
the library's network changed since), the library as it stands, the verdicts made before, and the keeper that saves
every change (`review.saving`). Plain arguments: a script opens one as the `review` command does.

    from forams_lightning.review import open_review
    review = open_review("runs/core_12")
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from forams_lightning.identify.predictions import read_errors, read_files
from forams_lightning.identify.sample_embeddings import SampleEmbeddings, embedder_fingerprint, load_sample_embeddings
from forams_lightning.identify.settings import IdentifySettings
from forams_lightning.library.embedding import Inference
from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.library.storage import load_library
from forams_lightning.review.saving import ReviewSaver
from forams_lightning.review.session import LiveReview
from forams_lightning.review.verdicts import read_verdicts
from forams_lightning.saved_runs import read_config_file

log = logging.getLogger(__name__)


def open_review(run: str | Path, library: str | Path | None = None, settings: IdentifySettings = IdentifySettings(),
                *, inference: Inference = Inference(), order: str = "benefit") -> LiveReview:
    """The review of `run` (an `identify` run folder) against `library` (default: the one it was identified
    against), resumed from its verdicts.csv where it has one, every change saved as it is made; `close()` (or a
    `with` block) writes the last of them.

    Args:
        run: the identify run folder.
        library: the library folder (default: the one the sample was identified against).
        settings: the vote, its re-ranking and which specimens are grouped.
        inference: how the images are embedded where the run folder keeps no embeddings.
        order: which specimen comes next (`metrics.review_order.ORDERS`).
    """
    run = Path(run)
    if not (run / "predictions.csv").is_file():
        raise FileNotFoundError(f"run={run} holds no predictions.csv: run identify first, or give library=... "
                                "images=... to identify before the review opens")
    sample = load_sample_embeddings(run)
    folder = Path(library or (sample.library if sample else _identified_against(run)))
    library_now = load_library(folder)
    fingerprint = embedder_fingerprint(folder)
    if sample is None or sample.library_embedder != fingerprint:
        sample = _embed_again(run, sample, library_now, inference, folder=folder, fingerprint=fingerprint)
    files = [str(Path(f).resolve()) for f in sample.files]
    verdicts = read_verdicts(run, files)
    decided = {files[v.specimen] for v in verdicts}
    earlier = np.array([f in decided for f in library_now.files], bool)  # references a resumed review added
    saver = ReviewSaver(folder, run, ours=set(files) - (set(library_now.files) - decided))
    errors = read_errors(run)
    review = LiveReview(library_now.subset(~earlier) if earlier.any() else library_now, sample, settings,
                        verdicts=verdicts, order=order, keeper=saver,
                        errors={i: errors[f] for i, f in enumerate(sample.files) if f in errors})
    saver.start(review)
    return review


def _identified_against(run: Path) -> str:
    """The library a run folder from before kept embeddings was identified against (its saved config, read as
    data)."""
    saved = run / ".hydra" / "config.yaml"
    try:
        library = read_config_file(saved).get("library")
    except Exception:  # noqa: BLE001 - whatever is wrong with it, the user names the library instead
        library = None
    if library:
        return str(library)
    raise ValueError(f"run={run}: its saved config {saved} does not name the library it was identified against; "
                     "give library=DIR")


def _embed_again(run: Path, sample: SampleEmbeddings | None, library: ReferenceLibrary, inference: Inference, *,
                 folder: Path, fingerprint: str) -> SampleEmbeddings:
    from forams_lightning.data.samples import sample_images

    if sample is None:
        files = read_files(run)
        saved = run / ".hydra" / "config.yaml"
        images = str(read_config_file(saved).get("images") or "") if saved.is_file() else ""
        listed, samples = sample_images(images) if images and Path(images).exists() else (files, None)
        sample = SampleEmbeddings(files, samples if listed == files else None, np.zeros((0, 0)), str(folder), "",
                                  images)
        log.info("run=%s keeps no embeddings of its sample (identified by an older version): embedding its %d "
                 "images once", run, len(files))
    else:
        log.info("the library's network changed since %s was identified: embedding its %d images again", run,
                 len(sample.files))
    embeddings, good, _ = library.embed(sample.files, inference, "sample")
    sample.embeddings = np.full((len(sample.files), library.embeddings.shape[1]), np.nan, np.float32)
    sample.embeddings[good] = embeddings
    sample.library, sample.library_embedder = str(folder.resolve()), fingerprint
    sample.save(run)
    return sample

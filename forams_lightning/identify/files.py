"""Identify a sample of image files against a reference library, batch by batch (memory stays flat however many
images: a few numbers a specimen, the embeddings streamed to `keep`), into one `IdentifiedSample`.

    from forams_lightning.identify import identify_files
    identified = identify_files(load_library("runs/forams/library"), files)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from forams_lightning.identify.groups import candidate_groups, chosen_for_grouping
from forams_lightning.identify.identified import IdentifiedSample, vote
from forams_lightning.identify.sample_embeddings import EmbeddingWriter
from forams_lightning.identify.settings import IdentifySettings
from forams_lightning.library.embedding import Inference, iter_embeddings
from forams_lightning.library.reference_library import ReferenceLibrary

log = logging.getLogger(__name__)


def identify_files(library: ReferenceLibrary, files: Sequence[str], settings: IdentifySettings = IdentifySettings(),
                   *, inference: Inference = Inference(), samples: Sequence[str] | None = None,
                   keep: EmbeddingWriter | None = None) -> IdentifiedSample:
    """Every file voted on, flagged and (as `settings.groups` says) grouped; an unreadable file keeps its error.

    Args:
        library: the reference library to identify against.
        files: the image files of the sample.
        settings: the vote, its re-ranking and which specimens are grouped.
        inference: how the files are embedded (batch size, workers, device, precision).
        samples: the sample of each file (for the census), or None.
        keep: receives every embedding (`identify.sample_embeddings`: the live review re-identifies them).
    """
    settings = settings.for_library(library)
    if library.grouping is None and settings.groups != "none":
        log.info("this library keeps no clustering cut (exported before candidate groups existed, or without "
                 "labelled species to calibrate one): novel specimens are not grouped; export it again to group them")
    identified = IdentifiedSample(files, library, settings.k or library.k, samples)
    scope = settings.groups if library.grouping is not None else "none"
    kept: list[tuple[np.ndarray, np.ndarray]] = []  # embeddings of the specimens to group, and their indices
    for emb, good, bad in iter_embeddings(library.network(), list(files), library.transform(),
                                          library.preprocessing.get("exif_transpose", True), inference=inference,
                                          description="identify"):
        for i, error in bad:
            identified.record_unreadable(i, error)
        if good and emb is not None:
            if keep is not None:
                keep.write(good, emb)
            found, score, novel = vote(library, emb, settings)
            identified.record(good, found, score, novel)
            chosen = np.isin(good, chosen_for_grouping(scope, np.asarray(good), identified.novel))
            kept.append((emb[chosen], np.asarray(good)[chosen]))
    if any(len(rows) for _, rows in kept):
        identified.groups = candidate_groups(np.concatenate([e for e, _ in kept]),
                                             np.concatenate([r for _, r in kept]), library)
    return identified

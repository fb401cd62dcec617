"""The reference library: a trained embedder, its labelled reference embeddings, how specimens are voted on and
when one is flagged novel; in memory (`ReferenceLibrary`), on disk (`load_library`, `save_library`), built from a
training run (`build_library`), grown and corrected without retraining (`add_references`, ...), audited
(`audit_library`). The `library` command (`python -m forams_lightning.library`) is a thin adapter over these.

    from forams_lightning.library import add_references, load_library
    library = load_library("runs/forams/library")
    grown, entry = add_references("runs/forams/library", "new_species", species="Globigerina bulloides")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forams_lightning.exports import lazy_exports

_API = {
    "audit": ["AuditRow", "audit_library", "audit_report", "write_audit"],
    "build": ["build_library", "run_part"],
    "description": ["describe"],
    "editing": ["add_references", "apply_verdicts", "recalibrate",
                "reference_indices", "relabel_references", "remove_references"],
    "embedding": ["Inference", "embed_files"],
    "grouping": ["Grouping"],
    "lock": ["library_lock"],
    "reference_library": ["ReferenceLibrary"],
    "replacing": ["merge_growth", "place_library"],
    "sources": ["file_sha1", "labelled_images"],
    "storage": ["load_library", "missing_originals", "save_library"],
}
__all__ = ["AuditRow", "Grouping", "Inference", "ReferenceLibrary", "add_references", "apply_verdicts",
           "audit_library", "audit_report", "build_library", "describe", "embed_files", "file_sha1",
           "labelled_images", "library_lock", "load_library", "merge_growth", "missing_originals", "place_library",
           "recalibrate", "reference_indices", "relabel_references", "remove_references", "run_part", "save_library",
           "write_audit"]
__getattr__, __dir__ = lazy_exports(__name__, _API)

if TYPE_CHECKING:
    from forams_lightning.library.audit import AuditRow, audit_library, audit_report, write_audit
    from forams_lightning.library.build import build_library, run_part
    from forams_lightning.library.description import describe
    from forams_lightning.library.editing import (
        add_references,
        apply_verdicts,
        recalibrate,
        reference_indices,
        relabel_references,
        remove_references,
    )
    from forams_lightning.library.embedding import Inference, embed_files
    from forams_lightning.library.grouping import Grouping
    from forams_lightning.library.lock import library_lock
    from forams_lightning.library.reference_library import ReferenceLibrary
    from forams_lightning.library.replacing import merge_growth, place_library
    from forams_lightning.library.sources import file_sha1, labelled_images
    from forams_lightning.library.storage import load_library, missing_originals, save_library

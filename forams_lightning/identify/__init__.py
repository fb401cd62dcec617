"""A sample identified against a reference library: one value (`IdentifiedSample`: per specimen its vote, share,
novelty score and flag, neighbours, candidate group, an expert's verdict) that yields predictions.csv, the census
and the review pages; how files become one (`identify_files`), the run folder `identify` writes
(`identify_sample`), the sample's kept embeddings and its candidate new species. The `identify` command
(`python -m forams_lightning.identify`) is a thin adapter over these.

    from forams_lightning.identify import identify_sample
    identified = identify_sample("runs/forams/library", "specimens/core_12", "runs/core_12")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forams_lightning.exports import lazy_exports

_API = {
    "census": ["padded_confusion", "sample_census"],
    "census_files": ["wide_tables", "write_census", "write_sample_census"],
    "files": ["identify_files"],
    "groups": ["CandidateGroup", "candidate_groups"],
    "identified": ["IdentifiedSample", "Validation", "vote"],
    "review_page": ["write_review_pages"],
    "run_folder": ["ReviewPages", "identify_sample"],
    "sample_embeddings": ["SampleEmbeddings", "embedder_fingerprint", "load_sample_embeddings"],
    "settings": ["IdentifySettings"],
    "tables": ["write_tables"],
}
__all__ = ["CandidateGroup", "IdentifiedSample", "IdentifySettings", "ReviewPages", "SampleEmbeddings", "Validation",
           "candidate_groups", "embedder_fingerprint", "identify_files", "identify_sample", "load_sample_embeddings",
           "padded_confusion", "sample_census", "vote", "wide_tables", "write_census", "write_review_pages",
           "write_sample_census", "write_tables"]
__getattr__, __dir__ = lazy_exports(__name__, _API)

if TYPE_CHECKING:
    from forams_lightning.identify.census import padded_confusion, sample_census
    from forams_lightning.identify.census_files import wide_tables, write_census, write_sample_census
    from forams_lightning.identify.files import identify_files
    from forams_lightning.identify.groups import CandidateGroup, candidate_groups
    from forams_lightning.identify.identified import IdentifiedSample, Validation, vote
    from forams_lightning.identify.review_page import write_review_pages
    from forams_lightning.identify.run_folder import ReviewPages, identify_sample
    from forams_lightning.identify.sample_embeddings import (
        SampleEmbeddings,
        embedder_fingerprint,
        load_sample_embeddings,
    )
    from forams_lightning.identify.settings import IdentifySettings
    from forams_lightning.identify.tables import write_tables

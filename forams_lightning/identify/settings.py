"""How a sample is identified: the neighbours that vote, the vote, the re-ranking and which specimens are grouped into
candidate new species (`identify`'s and the live review's settings)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from forams_lightning.identify.groups import SCOPES
from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.metrics.reranking import Reranking

log = logging.getLogger(__name__)

VOTES = ("balanced", "majority")


@dataclass(frozen=True)
class IdentifySettings:
    """`k` neighbours shown and voting (None: the library's); `vote`: ``balanced`` (a species' votes count as a
    share of min(k, its references), `metrics.knn.knn_vote`) or ``majority`` (the training evaluation's plain vote);
    `reranking` of the vote and the neighbours shown (cosine libraries); `groups`: which specimens are grouped into
    candidate new species (``novel``: those flagged novel; ``all``: every one, for a sample known to hold new
    species; ``none``), by the library's cut (`identify.groups`)."""

    k: int | None = None
    vote: str = "balanced"
    reranking: Reranking = field(default_factory=Reranking)
    groups: str = "novel"

    def __post_init__(self) -> None:
        if self.vote not in VOTES:
            raise ValueError(f"vote={self.vote!r}: balanced or majority")
        if self.groups not in SCOPES:
            raise ValueError(f"groups={self.groups!r}: one of {SCOPES}")
        if self.k is not None and (isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1):
            raise ValueError(f"k={self.k!r}: a whole number >= 1, or null for the library's")

    def for_library(self, library: ReferenceLibrary) -> IdentifySettings:
        """These settings as `library` can use them: CSLS ranks by cosine similarity, so a library of l2 distances
        ranks plainly (said once)."""
        if self.reranking.csls_k and library.metric != "cosine":
            log.info("reranking.csls_k=%s: CSLS ranks by cosine similarity; this library uses %s distances: plain "
                     "ranking", self.reranking.csls_k, library.metric)
            return replace(self, reranking=replace(self.reranking, csls_k=0))
        return self

"""The candidate new species of an identified sample: the specimens chosen for grouping (those flagged novel, or
every one) grouped by the library's cut (`library.grouping`), named G1, G2, ... by decreasing size, each with its
medoid first and the known species nearest the medoid (groups.csv, the `group` column of predictions.csv)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forams_lightning.library.grouping import summarise_groups
from forams_lightning.library.reference_library import ReferenceLibrary

SCOPES = ("novel", "all", "none")  # which specimens `identify` groups
GROUPS_HEADER = ["group", "size", "medoid", "nearest_species", "nearest_distance"]


@dataclass(frozen=True)
class CandidateGroup:
    """A candidate new species: its `members` (indices into the sample's files), medoid first, and the library's
    species nearest the medoid (an index into the species of the library it was grouped against)."""

    name: str
    members: np.ndarray
    nearest_species: int
    nearest_distance: float


def group_name(group: int) -> str:
    """G1, G2, ... for groups 0, 1, ... (numbered by decreasing size)."""
    return f"G{group + 1}"


def chosen_for_grouping(scope: str, among: np.ndarray, novel: np.ndarray) -> np.ndarray:
    """The specimens of `among` that `scope` (`SCOPES`) groups: those flagged novel (`novel`, over the whole
    sample), every one, or none."""
    if scope not in SCOPES:
        raise ValueError(f"groups={scope!r}: one of {SCOPES}")
    among = np.asarray(among, np.int64)
    if scope == "all":
        return among
    return among[np.asarray(novel, bool)[among]] if scope == "novel" else among[:0]


def candidate_groups(embeddings: np.ndarray, specimens: np.ndarray, library: ReferenceLibrary,
                     seed: int = 0) -> list[CandidateGroup]:
    """The `specimens` (indices into the sample, `embeddings` their rows) grouped by the library's cut, largest
    first; none where the library keeps no cut or nothing is to be grouped.

    Args:
        embeddings: the rows of the specimens to group.
        specimens: their indices into the sample's files.
        library: whose cut groups them and whose species are nearest.
        seed: of the tree's draw beyond its size.
    """
    specimens = np.asarray(specimens, np.int64)
    if library.grouping is None or not len(specimens):
        return []
    ids = library.grouping.groups(embeddings, library.metric, seed)
    summaries = summarise_groups(embeddings, ids, library.embeddings, library.labels, metric=library.metric)
    return [CandidateGroup(group_name(g), specimens[s.members], s.nearest_species, s.nearest_distance)
            for g, s in enumerate(summaries)]

"""The candidate new species of an identified sample: the specimens kept for grouping (the novel ones, or all) grouped
by the library's cut (`reference.discovery`), named G1, G2, ... by decreasing size, written to groups.csv and to the
`group` column of predictions.csv."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forams_lightning.atomic import AtomicCsvWriter, atomic_write_csv
from forams_lightning.reference.discovery import GroupSummary, summarise_groups
from forams_lightning.reference.reference_library import ReferenceLibrary

SCOPES = ("novel", "all", "none")  # which specimens `identify` groups
GROUPS_HEADER = ["group", "size", "medoid", "nearest_species", "nearest_distance"]


@dataclass
class NovelGroups:
    """`rows`: the result rows grouped (indices into `Results`); `names`: each one's group (G1, ...);
    `summaries`: per group, its members as indices into `rows`, medoid first."""

    rows: np.ndarray
    names: list[str]
    summaries: list[GroupSummary]

    def name_of_file(self, files: list[str], index: np.ndarray) -> dict[str, str]:
        """Group name by file path (`index`: the file index of every result row)."""
        return {files[index[r]]: name for r, name in zip(self.rows, self.names)}

    def members(self, files: list[str], index: np.ndarray) -> list[list[str]]:
        """Each group's files, medoid first."""
        return [[files[index[self.rows[m]]] for m in s.members] for s in self.summaries]

    def for_review(self, files: list[str], index: np.ndarray, species: list[str]) -> list[tuple]:
        """(name, files medoid first, nearest known species, its distance) of each group, as the review shows it."""
        return [(group_name(g), members, species[s.nearest_species], s.nearest_distance)
                for g, (members, s) in enumerate(zip(self.members(files, index), self.summaries))]


def group_name(group: int) -> str:
    """G1, G2, ... for groups 0, 1, ... (numbered by decreasing size)."""
    return f"G{group + 1}"


def group_specimens(embeddings: np.ndarray, rows: np.ndarray, library: ReferenceLibrary,
                    seed: int = 0) -> NovelGroups | None:
    """`embeddings` of the result `rows` kept for grouping, grouped by the library's cut (None: nothing to group)."""
    if library.grouping is None or not len(rows):
        return None
    ids = library.grouping.groups(embeddings, library.metric, seed)
    summaries = summarise_groups(embeddings, ids, library.embeddings, library.labels, library.metric)
    return NovelGroups(np.asarray(rows), [group_name(i) for i in ids], summaries)


def write_groups(path: Path, groups: NovelGroups, files: list[str], index: np.ndarray,
                 library: ReferenceLibrary) -> None:
    """groups.csv: every group's size, medoid file, and the known species nearest the medoid."""
    rows = [[name, len(members), members[0], nearest, f"{distance:.5f}"]
            for name, members, nearest, distance in groups.for_review(files, index, library.species)]
    atomic_write_csv(path, GROUPS_HEADER, rows)


def fill_group_column(predictions: Path, names: dict[str, str]) -> None:
    """predictions.csv rewritten (row by row, atomically) with each grouped file's group in its `group` column."""
    with open(predictions, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        column, file_column = header.index("group"), header.index("file")
        with AtomicCsvWriter(predictions, header) as writer:
            for row in reader:
                row[column] = names.get(row[file_column], "")
                writer.write([row])

"""A sample as identified against a reference library: one value that the batch `identify`, the live review and a
script build alike, and that yields predictions.csv's rows, the census, groups.csv's rows and what both review pages
show of each specimen (the model: OML's `RetrievalResults`).

Per file of the sample: readable, or its error; the vote (a species of `library`), its share, the novelty score and
flag, the k nearest references (indices into `library`, -1 where it holds fewer) and their distances as the vote
ranked them; the candidate groups; an expert's verdict where the live review has one.

    identified = identify_files(load_library("runs/forams/library"), find_images("specimens"))
    rows = list(identified.rows())          # predictions.csv
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from forams_lightning.identify.census import census
from forams_lightning.identify.groups import CandidateGroup
from forams_lightning.identify.predictions import header
from forams_lightning.identify.settings import IdentifySettings
from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.metrics.classification import genus_of
from forams_lightning.metrics.knn import Identification, knn_search
from forams_lightning.metrics.review_order import review_order


@dataclass(frozen=True)
class Validation:
    """An expert's verdict on a specimen: its species, and who gave it."""

    species: str
    validated_by: str


def vote(library: ReferenceLibrary, queries: np.ndarray,
         settings: IdentifySettings) -> tuple[Identification, np.ndarray, np.ndarray]:
    """(the vote of `queries` against `library` as `settings` say, their novelty scores, their flags)."""
    found, score = library.identify(queries, settings.k or library.k, settings.reranking, settings.vote == "balanced")
    return found, score, library.is_novel(score, found.prediction)


class IdentifiedSample:
    """The files of a sample, none identified yet: `record` fills in what a vote found (module docstring).

    Args:
        files: every file of the sample, in order.
        library: the library it is identified against.
        k: the neighbours kept of each specimen.
        samples: the sample of each file (for the census), or None.
    """

    def __init__(self, files: Sequence[str], library: ReferenceLibrary, k: int, samples: Sequence[str] | None = None):
        n = len(files)
        self.files, self.library = list(files), library
        self.samples = None if samples is None else list(samples)  # the sample of each file (for the census)
        self.readable = np.zeros(n, bool)
        self.prediction, self.share = np.zeros(n, np.int64), np.zeros(n, np.float32)
        self.score, self.novel = np.zeros(n, np.float32), np.zeros(n, bool)
        self.neighbours, self.distances = np.full((n, k), -1, np.int64), np.zeros((n, k), np.float32)
        self.errors: dict[int, str] = {}
        self.validated: dict[int, Validation] = {}
        self._groups: list[CandidateGroup] | None = None
        self._group_names: np.ndarray | None = None

    @property
    def k(self) -> int:
        return int(self.neighbours.shape[1])

    def record(self, specimens: Sequence[int] | np.ndarray, found: Identification, score: np.ndarray,
               novel: np.ndarray) -> None:
        """What the vote `found` of `specimens` (indices into the files), their novelty scores and flags.

        Args:
            specimens: indices into the files.
            found: their vote.
            score: their novelty scores.
            novel: their flags.
        """
        rows, width = np.asarray(specimens, np.int64), found.ids.shape[1]
        self.readable[rows] = True
        self.prediction[rows], self.share[rows] = found.prediction, found.vote_share
        self.score[rows], self.novel[rows] = score, novel
        self.neighbours[rows, :width], self.distances[rows, :width] = found.ids, found.distances

    def record_unreadable(self, specimen: int, error: str) -> None:
        self.readable[specimen] = False
        self.errors[specimen] = error

    @property
    def groups(self) -> list[CandidateGroup] | None:
        """The candidate new species, largest first (None: the sample was not grouped)."""
        return self._groups

    @groups.setter
    def groups(self, groups: list[CandidateGroup] | None) -> None:
        self._groups, self._group_names = groups, None

    def group_names(self) -> np.ndarray:
        """The candidate group of every file ("" where none)."""
        if self._group_names is None:
            self._group_names = np.full(len(self.files), "", dtype=object)
            for group in self._groups or []:
                self._group_names[group.members] = group.name
        return self._group_names

    def identified(self) -> np.ndarray:
        """The readable specimens, in file order."""
        return np.flatnonzero(self.readable)

    def flagged(self) -> np.ndarray:
        """Per file: flagged novel and without a verdict."""
        flagged = self.novel & self.readable
        flagged[list(self.validated)] = False
        return flagged

    def species_of(self, i: int) -> str:
        """The expert's species of specimen `i` where it has a verdict, else the one voted."""
        verdict = self.validated.get(i)
        return verdict.species if verdict else self.library.species[self.prediction[i]]

    def label(self, i: int) -> str:
        """The automatic identification of `i` in words: its species, with "(novel?)" where flagged."""
        name = self.library.species[self.prediction[i]]
        return f"{name} (novel?)" if self.novel[i] else name

    def header(self) -> list[str]:
        return header(self.k)

    def rows(self) -> Iterator[list]:
        """predictions.csv's rows, one per file in order: an expert's verdict, an unreadable file's error, or the
        automatic identification."""
        blank, names, width = [""] * (3 * self.k), self.group_names(), len(self.header())
        for i, file in enumerate(self.files):
            verdict = self.validated.get(i)
            if verdict is not None:
                yield [file, verdict.species, genus_of(verdict.species), "", "", "", 0, "", *blank, "",
                       verdict.validated_by]
            elif not self.readable[i]:
                yield [file, *([""] * (width - 3)), self.errors.get(i, "unreadable"), ""]
            else:
                yield self._automatic_row(i, str(names[i]))

    def _automatic_row(self, i: int, group: str) -> list:
        library = self.library
        species = library.species[self.prediction[i]]
        neighbours = [v for g, d in zip(self.neighbours[i], self.distances[i]) if g >= 0
                      for v in (library.species[library.labels[g]], f"{d:.5f}", library.files[g])]
        padding = [""] * (3 * self.k - len(neighbours))
        return [self.files[i], species, genus_of(species), f"{self.share[i]:.3f}", f"{self.distances[i, 0]:.5f}",
                f"{self.score[i]:.5f}", int(self.novel[i]), group, *neighbours, *padding, "", ""]

    def group_rows(self) -> list[list]:
        """groups.csv's rows: each candidate group's size, medoid file, and the known species nearest the medoid."""
        return [[g.name, len(g.members), self.files[g.members[0]], self.library.species[g.nearest_species],
                 f"{g.nearest_distance:.5f}"] for g in self._groups or []]

    def census(self, order: Sequence[str] | None = None, seed: int = 0) -> list[list] | None:
        """`identify.census.census` rows of the sample (an expert's verdict counts as identified, never flagged), in
        `order` of samples where given; None where the files come as no samples."""
        if self.samples is None:
            return None
        ids, samples = self.identified(), self.samples
        at = {name: s for s, name in enumerate(self.library.species)}
        prediction = self.prediction[ids].copy()
        for i, verdict in self.validated.items():  # ids are in file order: a verdict's row is found by bisection
            prediction[np.searchsorted(ids, i)] = at[verdict.species]
        unreadable = Counter(samples[i] for i in np.flatnonzero(~self.readable))
        return census([samples[i] for i in ids], prediction, self.flagged()[ids], list(self.group_names()[ids]),
                      species=self.library.species, confusion=self.library.confusion,
                      confusion_flagged=self.library.confusion_flagged, unreadable=unreadable, order=order, seed=seed)

    def specimen(self, i: int) -> dict:
        """What a review page shows of specimen `i`: its identification, verdict, group and nearest references."""
        library, verdict = self.library, self.validated.get(i)
        return {"id": int(i), "file": self.files[i], "species": library.species[self.prediction[i]],
                "vote_share": float(self.share[i]), "novelty_score": float(self.score[i]),
                "novel": bool(self.novel[i]), "group": str(self.group_names()[i]),
                "verdict": verdict.species if verdict else None,
                "validated_by": verdict.validated_by if verdict else None,
                "neighbours": [{"reference": int(g), "file": library.files[g],
                                "species": library.species[library.labels[g]], "distance": float(d),
                                "thumbnail": library.thumbnail(int(g))}
                               for g, d in zip(self.neighbours[i], self.distances[i]) if g >= 0]}

    def review_order(self, rule: str, embeddings: np.ndarray | None, among: np.ndarray,
                     seed: int = 0) -> np.ndarray:
        """The specimens `among` in the order `rule` (`metrics.review_order.ORDERS`) shows them; ``benefit`` needs
        the sample's `embeddings` (rows of its files).

        Args:
            rule: ``benefit``, ``uncertainty`` or ``random``.
            embeddings: the sample's embeddings (rows of its files), for ``benefit``.
            among: the specimens to order.
            seed: of the random order.
        """
        among = np.asarray(among, np.int64)
        rows = None if embeddings is None else np.asarray(embeddings[among])
        reach = None
        if rule == "benefit" and rows is not None:
            reach = np.full(len(among), np.inf) if not len(self.library.files) else \
                knn_search(self.library.embeddings, rows, 1, self.library.metric)[0][:, 0]
        return among[review_order(rule, rows, self.share[among], self.novel[among], novelty_score=self.score[among],
                                  reach=reach, metric=self.library.metric, seed=seed)]

"""Identify a sample of image files against a reference library: one predictions.csv row per file, written as batches
are identified (memory stays flat however many images), and what the review page needs of each specimen."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from forams_lightning.atomic import AtomicCsvWriter
from forams_lightning.metrics.classification import genus_of
from forams_lightning.metrics.knn import Identification, knn_search
from forams_lightning.metrics.reranking import Reranking
from forams_lightning.reference.embedding import Inference, iter_embeddings
from forams_lightning.reference.novel_groups import SCOPES, NovelGroups, fill_group_column, group_specimens
from forams_lightning.reference.reference_library import ReferenceLibrary
from forams_lightning.reference.sample_embeddings import EmbeddingWriter

log = logging.getLogger(__name__)

VOTES = ("balanced", "majority")
BENEFIT_MAX = 20_000  # specimens the static review's benefit order weighs (their 10 nearest of each other: seconds)


@dataclass(frozen=True)
class IdentifySettings:
    """`k` neighbours shown and voting (None: the library's); `vote`: ``balanced`` (a species' votes count as a
    share of min(k, its references), `metrics.knn.knn_vote`) or ``majority`` (the training evaluation's plain vote);
    `reranking` of the vote and the neighbours shown (cosine libraries); `groups`: which specimens are grouped into
    candidate new species (``novel``: those flagged novel; ``all``: every one, for a sample known to hold new
    species; ``none``), by the library's cut (`reference.novel_groups`)."""

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


def identify_files(library: ReferenceLibrary, files: list[str], predictions: Path,
                   settings: IdentifySettings = IdentifySettings(), inference: Inference = Inference(),
                   keep: EmbeddingWriter | None = None) -> Results:
    """Writes `predictions` (one row per file, an unreadable file with its error) and returns the results; `keep`
    receives every embedding (`reference.sample_embeddings`: the live review re-identifies them)."""
    settings = settings.for_library(library)
    k = settings.k or library.k
    if library.grouping is None and settings.groups != "none":
        log.info("this library keeps no clustering cut (exported before candidate groups existed, or without "
                 "labelled species to calibrate one): novel specimens are not grouped; export it again to group them")
    results = Results(len(files), k, settings.groups if library.grouping is not None else "none")
    with AtomicCsvWriter(predictions, header(k)) as writer:
        for emb, good, bad in iter_embeddings(library.network(), files, library.transform(),
                                              library.preprocessing.get("exif_transpose", True), inference,
                                              "identify"):
            rows = {i: unreadable_row(files[i], k, error) for i, error in bad}
            if good and emb is not None:
                if keep is not None:
                    keep.write(good, emb)
                found, score = library.identify(emb, k, settings.reranking, settings.vote == "balanced")
                novel = library.is_novel(score, found.prediction)
                results.add(good, found, score, novel, emb)
                rows.update({i: prediction_row(files[i], library, int(found.prediction[r]), float(found.vote_share[r]),
                                               found.ids[r], found.distances[r], float(score[r]), bool(novel[r]))
                             for r, i in enumerate(good)})  # group: `fill_group_column`
            writer.write([rows[i] for i in sorted(rows)])
            results.failures += [(files[i], error) for i, error in bad]
    results.groups = results.grouped(library)
    if results.groups is not None:
        fill_group_column(predictions, results.groups.name_of_file(files, results.index))
    return results


def header(k: int) -> list[str]:
    columns = ["file", "species", "genus", "vote_share", "nearest_distance", "novelty_score", "novel", "group"]
    for j in range(1, k + 1):
        columns += [f"neighbour_{j}_species", f"neighbour_{j}_distance", f"neighbour_{j}_file"]
    return columns + ["error", "validated_by"]  # validated_by: the expert whose verdict the row is (live review)


def unreadable_row(file: str, k: int, error: str) -> list:
    return [file, *([""] * (len(header(k)) - 3)), error, ""]


def prediction_row(file: str, library: ReferenceLibrary, prediction: int, share: float, ids: np.ndarray,
                   distances: np.ndarray, score: float, novel: bool, group: str = "") -> list:
    """One automatic row of predictions.csv: the vote, its share, the nearest distance, the novelty score and flag,
    the candidate group and the neighbours (`ids` into the library, -1 where it has fewer references)."""
    species = library.species[prediction]
    neighbours = [v for g, d in zip(ids, distances) if g >= 0
                  for v in (library.species[library.labels[g]], f"{d:.5f}", library.files[g])]
    padding = [""] * (3 * len(ids) - len(neighbours))
    return [file, species, genus_of(species), f"{share:.3f}", f"{distances[0]:.5f}", f"{score:.5f}", int(novel),
            group, *neighbours, *padding, "", ""]


class Results:
    """What the review needs of every identified specimen, in arrays (a few dozen bytes a specimen)."""

    def __init__(self, capacity: int, k: int, keep: str = "none"):
        self.index = np.zeros(capacity, np.int64)
        self.prediction = np.zeros(capacity, np.int64)
        self.share = np.zeros(capacity, np.float32)
        self.novel = np.zeros(capacity, bool)
        self.score = np.zeros(capacity, np.float32)
        self.ids = np.full((capacity, k), -1, np.int64)
        self.distances = np.zeros((capacity, k), np.float32)
        self.n = 0
        self.failures: list[tuple[str, str]] = []
        self.keep = keep
        self.kept: list[np.ndarray] = []
        self.kept_rows: list[np.ndarray] = []  # embeddings to group (`SCOPES`) and their rows
        self.groups: NovelGroups | None = None

    def add(self, indices: list[int], found: Identification, score: np.ndarray, novel: np.ndarray,
            embeddings: np.ndarray | None = None) -> None:
        end, width = self.n + len(indices), found.ids.shape[1]
        if self.keep != "none" and embeddings is not None:
            chosen = np.ones(len(indices), bool) if self.keep == "all" else np.asarray(novel, bool)
            self.kept.append(np.asarray(embeddings)[chosen])
            self.kept_rows.append(np.arange(self.n, end)[chosen])
        self.index[self.n:end], self.prediction[self.n:end] = indices, found.prediction
        self.share[self.n:end], self.score[self.n:end], self.novel[self.n:end] = found.vote_share, score, novel
        self.ids[self.n:end, :width], self.distances[self.n:end, :width] = found.ids, found.distances
        self.n = end

    def grouped(self, library: ReferenceLibrary) -> NovelGroups | None:
        """The kept specimens grouped into candidate new species (None where none were kept)."""
        kept, rows = self.kept, self.kept_rows
        self.kept, self.kept_rows = [], []
        if not sum(len(r) for r in rows):
            return None
        return group_specimens(np.concatenate(kept), np.concatenate(rows), library)

    def group_names(self) -> list[str]:
        """The candidate group of every result row ("" where not grouped)."""
        names = [""] * self.n
        if self.groups:
            for r, name in zip(self.groups.rows, self.groups.names):
                names[r] = name
        return names

    def census(self, files: list[str], samples: list[str], library: ReferenceLibrary,
               order: list[str] | None = None) -> list[list]:
        """`reference.census.census` rows of the identified specimens, `samples` the sample of every file (its
        unreadable files counted too), in `order` where given."""
        from collections import Counter

        from forams_lightning.reference.census import census

        n, at = self.n, {f: i for i, f in enumerate(files)}
        unreadable = Counter(samples[at[f]] for f, _ in self.failures if f in at)
        return census([samples[i] for i in self.index[:n]], self.prediction[:n], self.novel[:n], self.group_names(),
                      library.species, library.confusion, library.confusion_flagged, unreadable, order)

    @property
    def n_novel(self) -> int:
        return int(self.novel[: self.n].sum())

    def specimens(self, files: list[str], library: ReferenceLibrary, order: str = "uncertainty",
                  embeddings: np.ndarray | None = None) -> Specimens:
        """In the review `order` (`metrics.review_order`; ``benefit`` needs every file's `embeddings`, and falls
        back to ``uncertainty`` beyond `BENEFIT_MAX` specimens, said once)."""
        from forams_lightning.metrics.review_order import review_order

        n = self.n
        if order == "benefit" and (embeddings is None or n > BENEFIT_MAX):
            log.info("review order: least certain first (the benefit order weighs up to %d specimens)", BENEFIT_MAX)
            order = "uncertainty"
        rows = None if embeddings is None else np.asarray(embeddings[self.index[:n]])
        reach = None if rows is None or order != "benefit" else knn_search(library.embeddings, rows, 1,
                                                                             library.metric)[0][:, 0]
        return Specimens(self, review_order(order, rows, self.share[:n], self.novel[:n], self.score[:n], reach,
                                            library.metric), files, library)


class Specimens:
    """A sequence of review dicts built on demand, page by page (`viz.review.write_review` reads slices)."""

    def __init__(self, results: Results, order: np.ndarray, files: list[str], library: ReferenceLibrary):
        self.results, self.order, self.files, self.library = results, order, files, library
        self.n_novel = results.n_novel

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, item: slice) -> list[dict]:
        r, lib = self.results, self.library
        return [{"file": self.files[r.index[j]], "species": lib.species[r.prediction[j]],
                 "vote_share": float(r.share[j]), "novelty_score": float(r.score[j]), "novel": bool(r.novel[j]),
                 "neighbours": [{"file": lib.files[g], "species": lib.species[lib.labels[g]], "distance": float(d),
                                 "thumbnail": lib.thumbnail(g)}
                                for g, d in zip(r.ids[j], r.distances[j]) if g >= 0]}
                for j in self.order[item]]

"""A sample under an expert's review, where every verdict counts at once: the verdict's specimen becomes a reference
of the library in memory, and the specimens not yet reviewed are identified again against the grown library from
their kept embeddings (`reference.sample_embeddings`), votes, novelty flags and candidate groups alike. Plain Python:
the live review's web page (`review_app`) and a script drive it the same way.

    review = LiveReview(load_library("lib"), load_sample_embeddings("runs/core_12"))
    i = review.order()[0]
    changed = review.decide(i, "Globigerina bulloides", "A. Expert")   # what the verdict changed elsewhere

The library on disk follows in the background (`reference.review_sync`); `verdicts()` is what it is kept in step
with.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from forams_lightning.data.names import checked_name
from forams_lightning.metrics.knn import knn_search
from forams_lightning.metrics.review_order import ORDERS, review_order
from forams_lightning.reference.identification import IdentifySettings
from forams_lightning.reference.novel_groups import group_specimens
from forams_lightning.reference.reference_library import ReferenceLibrary
from forams_lightning.reference.sample_embeddings import SampleEmbeddings
from forams_lightning.reference.sources import file_sha1, refuse_spelling_variants

CANDIDATE_NEIGHBOURS = 20  # nearest references a specimen's candidate species are read from
REFERENCES_SHOWN = 3  # of each candidate species


@dataclass(frozen=True)
class Verdict:
    specimen: int  # index into the sample's files
    species: str
    validated_by: str
    when: str


@dataclass(frozen=True)
class Change:
    """What one verdict (or its undoing) changed among the specimens not yet reviewed."""

    specimen: int
    before: str  # "species" or "species (novel?)"
    after: str


class LiveReview:
    """The sample's identification kept current as verdicts come (thread-safe: one verdict at a time)."""

    def __init__(self, library: ReferenceLibrary, sample: SampleEmbeddings,
                 settings: IdentifySettings = IdentifySettings(), verdicts: Sequence[Verdict] = (),
                 order: str = "benefit", seed: int = 0):
        """`order`: which specimen comes next (`metrics.review_order.ORDERS`), recomputed after every verdict."""
        if order not in ORDERS:
            raise ValueError(f"order={order!r}: one of {', '.join(ORDERS)}")
        self.settings, self.rule = settings.for_library(library), order
        self._rank = np.random.default_rng(seed).permutation(len(sample.files))  # the random order, fixed
        self.k = self.settings.k or library.k
        self.sample, self.lock = sample, threading.RLock()
        self.files = [str(Path(f).resolve()) for f in sample.files]
        self.readable = np.flatnonzero(sample.readable)
        self.depth = max(self.settings.reranking.csls_k, library.novelty.scale_k, 1)  # of the neighbour table
        library.track_neighbours(self.depth)
        self.base, self.library = library, library
        self._order: list[int] | None = None  # the order, recomputed when asked after a change
        self._verdicts: dict[int, Verdict] = {}
        self.skipped: set[int] = set()
        self.hashes: dict[int, str] = {int(i): "" for i in self.readable}
        self._resume(verdicts)
        self._identify_all()

    def _resume(self, verdicts: Sequence[Verdict]) -> None:
        """The verdicts made before the review was opened again (the last on a specimen counts) as one growth of the
        library: a review of hundreds of verdicts resumes with one identification of the sample, not one a verdict."""
        for verdict in verdicts:
            self._check(verdict.specimen)
            species = checked_name(verdict.species.strip(), "verdicts.csv")
            self._verdicts[verdict.specimen] = replace(verdict, species=species)
        names = sorted({v.species for v in self._verdicts.values()})
        refuse_spelling_variants(names, [s for s in self.library.species if s not in names])
        self._add_verdicts()

    def _add_verdicts(self) -> None:
        """Every verdict's specimen a reference of the library in memory, in one growth."""
        ids = list(self._verdicts)
        if ids:
            self.library = self.library.with_references(self.sample.embeddings[ids],
                                                        [self._verdicts[i].species for i in ids],
                                                        [self.files[i] for i in ids], [self._hash(i) for i in ids])

    def adopt(self, stored: ReferenceLibrary, ours: set[str]) -> list[Change]:
        """The library as it is stored now (read after each save, `reference.review_sync`): what others changed
        meanwhile (another expert's review, `library add`, a relabel) joins this review, and the specimens not yet
        reviewed are identified again; returns what changed among them. `ours` (this sample's files that were not
        references before the review) stay this review's own verdicts. Nothing is done where nobody else changed
        anything."""
        mine = ours | {self.files[v.specimen] for v in self.verdicts()}
        if _references(stored, mine) == _references(self.base, mine) and stored.threshold == self.base.threshold:
            return []
        others = stored.subset(np.array([f not in ours for f in stored.files], bool))
        others.track_neighbours(self.depth)  # outside the lock: verdicts go on meanwhile
        with self.lock:
            before = self._labels()
            self.base = self.library = others
            self._add_verdicts()
            self._identify_all()
            return self._changes(before)

    def verdicts(self) -> list[Verdict]:
        with self.lock:
            return list(self._verdicts.values())

    def unreviewed(self) -> np.ndarray:
        return np.array([i for i in self.readable if i not in self._verdicts], int)

    def order(self) -> list[int]:
        """The specimens still to review in the review's order (`metrics.review_order`), skipped ones last."""
        with self.lock:
            if self._order is None:
                left = self.unreviewed()
                if self.rule == "random":
                    ranked = left[np.argsort(self._rank[left])]
                else:
                    ranked = left[review_order(self.rule, self.sample.embeddings[left], self.share[left],
                                               self.novel[left], self.score[left], self._reach(left),
                                               self.library.metric)]
                self._order = [int(i) for i in ranked if i not in self.skipped] + \
                    [int(i) for i in ranked if i in self.skipped]
            return list(self._order)

    def _reach(self, rows: np.ndarray) -> np.ndarray:
        """Each specimen's plain distance to its nearest reference."""
        if not len(self.library.files):
            return np.full(len(rows), np.inf)
        return knn_search(self.library.embeddings, self.sample.embeddings[rows], 1, self.library.metric)[0][:, 0]

    def skip(self, i: int) -> None:
        with self.lock:
            self.skipped.add(i)
            self._order = None  # recomputed when asked

    def decide(self, i: int, species: str, validated_by: str, when: str | None = None) -> list[Change]:
        """Specimen `i` is `species` (a known species or a new name): it becomes a reference, the rest are identified
        again; returns what changed among them."""
        species = checked_name(str(species).strip(), "verdict")
        if not species:
            raise ValueError("a verdict needs a species name")
        with self.lock:
            self._check(i)
            refuse_spelling_variants([species], [s for s in self.library.species if s != species])
            before = self._labels()
            self._remove_reference(i)
            self._verdicts[i] = Verdict(i, species, validated_by, when or _now())
            self.skipped.discard(i)
            self._add_reference(i, species)
            return self._changes(before)

    def decide_group(self, name: str, species: str, validated_by: str) -> list[Change]:
        """Every member of candidate group `name` is `species` (one growth of the library)."""
        with self.lock:
            members = [int(i) for i in np.flatnonzero(self.grouping() == name)]
            if not members:
                raise ValueError(f"no candidate group {name!r} (groups are renamed as verdicts come: reload)")
            species = checked_name(str(species).strip(), "verdict")
            refuse_spelling_variants([species], [s for s in self.library.species if s != species])
            before, when = self._labels(), _now()
            for i in members:
                self._verdicts[i] = Verdict(i, species, validated_by, when)
            self.library = self.library.with_references(self.sample.embeddings[members], [species] * len(members),
                                                        [self.files[i] for i in members],
                                                        [self._hash(i) for i in members])
            self._identify_all()
            return self._changes(before)

    def undo(self, ids: list[int]) -> list[Change]:
        """Takes the verdicts on `ids` back (one specimen's, or a named group's): their references are removed and
        the rest identified again."""
        with self.lock:
            missing = [i for i in ids if i not in self._verdicts]
            if missing or not ids:
                raise ValueError(f"specimens {missing or ids} have no verdict to undo")
            before = self._labels()
            for i in ids:
                self._remove_reference(i)
                del self._verdicts[i]
            self._identify_all()
            return self._changes(before)

    def _check(self, i: int) -> None:
        if not (0 <= i < len(self.files)) or not self.sample.readable[i]:
            raise ValueError(f"specimen {i}: no such readable specimen in this sample")

    def _hash(self, i: int) -> str:
        if not self.hashes.get(i):
            self.hashes[i] = file_sha1(self.files[i])
        return self.hashes[i]

    def _add_reference(self, i: int, species: str) -> None:
        self.library = self.library.with_references(self.sample.embeddings[[i]], [species], [self.files[i]],
                                                    [self._hash(i)])
        self._identify_all()

    def _remove_reference(self, i: int) -> None:
        """Removes the reference a verdict on `i` added (the library's own references come first and stay)."""
        if i not in self._verdicts:
            return
        ours = np.arange(len(self.library.files)) >= len(self.base.files)
        keep = ~(ours & np.array([f == self.files[i] for f in self.library.files]))
        if not keep.all():
            self.library = self.library.subset(keep)

    def _identify_all(self) -> None:
        """Votes, scores, flags and candidate groups of every readable specimen against the current library."""
        ids = self.readable
        queries = self.sample.embeddings[ids]
        found, score = self.library.identify(queries, self.k, self.settings.reranking,
                                             self.settings.vote == "balanced")
        n = len(self.files)
        self.ids = ids
        self.prediction, self.share = np.zeros(n, int), np.zeros(n, np.float32)
        self.score, self.novel = np.zeros(n, np.float32), np.zeros(n, bool)
        self.prediction[ids], self.share[ids], self.score[ids] = found.prediction, found.vote_share, score
        self.novel[ids] = self.library.is_novel(score, found.prediction)
        self.neighbours, self.distances = np.full((n, found.ids.shape[1]), -1), np.zeros((n, found.ids.shape[1]))
        self.neighbours[ids], self.distances[ids] = found.ids, found.distances
        self.group, self._grouped = np.array([""] * n, dtype=object), False
        self._order = None

    def grouping(self) -> np.ndarray:
        """The candidate group of every specimen ("" where none), among the unreviewed specimens the settings group
        (`reference.novel_groups`); computed when asked, not after every verdict (it costs as much as the rest of
        a re-identification)."""
        with self.lock:
            if not self._grouped and self.settings.groups != "none":
                left = self.unreviewed()
                chosen = left if self.settings.groups == "all" else left[self.novel[left]]
                groups = group_specimens(self.sample.embeddings[chosen], chosen, self.library)
                if groups is not None:
                    self.group[groups.rows] = groups.names
            self._grouped = True
            return self.group

    def groups(self) -> list[tuple[str, list[int]]]:
        """(name, member specimens) of every candidate group, G1 first (`grouping`)."""
        with self.lock:
            group = self.grouping()
            names = sorted({g for g in group if g}, key=lambda g: int(g[1:]))
            return [(name, [int(i) for i in np.flatnonzero(group == name)]) for name in names]

    def _labels(self) -> dict[int, str]:
        return {int(i): self.label(int(i)) for i in self.unreviewed()}

    def label(self, i: int) -> str:
        name = self.library.species[self.prediction[i]]
        return f"{name} (novel?)" if self.novel[i] else name

    def _changes(self, before: dict[int, str]) -> list[Change]:
        return [Change(i, label, self.label(i)) for i, label in before.items()
                if i not in self._verdicts and self.label(i) != label]

    def candidates(self, i: int) -> list[dict]:
        """The species of `i`'s nearest references, the voted one first, then by nearness, each with its
        `REFERENCES_SHOWN` nearest references (index into the library, file, distance)."""
        with self.lock:
            library = self.library
            distances, ids = knn_search(library.embeddings, self.sample.embeddings[[i]],
                                        CANDIDATE_NEIGHBOURS, library.metric)
            order = [int(self.prediction[i])] + [int(library.labels[g]) for g in ids[0]]
            found: dict[int, list] = {s: [] for s in dict.fromkeys(order)}
            for g, d in zip(ids[0], distances[0]):
                refs = found[int(library.labels[g])]
                if len(refs) < REFERENCES_SHOWN:
                    refs.append({"reference": int(g), "file": library.files[g], "distance": float(d)})
            return [{"species": library.species[s], "references": refs} for s, refs in found.items()]

    def specimen(self, i: int) -> dict:
        """What the page shows of specimen `i`."""
        with self.lock:
            self._check(i)
            verdict = self._verdicts.get(i)
            return {"id": i, "file": self.files[i], "species": self.library.species[self.prediction[i]],
                    "vote_share": float(self.share[i]), "novelty_score": float(self.score[i]),
                    "novel": bool(self.novel[i]),
                    "verdict": verdict.species if verdict else None,
                    "validated_by": verdict.validated_by if verdict else None}

    def progress(self) -> dict:
        with self.lock:
            return {"done": len(self._verdicts), "left": len(self.readable) - len(self._verdicts),
                    "flagged": int(self.novel[self.unreviewed()].sum()) if len(self.readable) else 0,
                    "references": len(self.library.files), "species": len(self.library.species)}


def _references(library: ReferenceLibrary, leaving: set[str]) -> list[tuple[str, str]]:
    """(file, species) of every reference whose file is not in `leaving`, in order."""
    return [(f, library.species[label]) for f, label in zip(library.files, library.labels) if f not in leaving]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

"""A sample under an expert's review, where every verdict counts at once: the verdict's specimen becomes a reference
of the library in memory, and the specimens not yet reviewed are identified again against the grown library from
their kept embeddings (`identify.sample_embeddings`), votes, novelty flags and candidate groups alike. Plain Python:
the live review's web page (`review.web`) and a script drive it the same way.

The review persists its own changes through the keeper it is given (`review.saving.ReviewSaver` from
`open_review`): after every verdict, group verdict or undo, under the review's lock and before the change is
answered, so no caller can forget to save.

    from forams_lightning.review import open_review
    with open_review("runs/core_12") as review:
        changed = review.decide(review.order()[0], "Globigerina bulloides", "A. Expert")
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from forams_lightning.data.names import checked_name
from forams_lightning.identify.groups import CandidateGroup, candidate_groups, chosen_for_grouping
from forams_lightning.identify.identified import IdentifiedSample, Validation, vote
from forams_lightning.identify.sample_embeddings import SampleEmbeddings
from forams_lightning.identify.settings import IdentifySettings
from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.library.sources import file_sha1, refuse_spelling_variants
from forams_lightning.metrics.knn import knn_search
from forams_lightning.metrics.review_order import ORDERS
from forams_lightning.review.verdicts import Verdict, now

CANDIDATE_NEIGHBOURS = 20  # nearest references a specimen's candidate species are read from
REFERENCES_SHOWN = 3  # of each candidate species


class Keeper(Protocol):
    """Where a review's changes are kept (`review.saving.ReviewSaver`)."""

    def changed(self, review: LiveReview) -> None:
        """Called after every change, under the review's lock, before the change is answered."""

    def close(self) -> None:
        """The last changes written."""

    def status(self) -> dict:
        """{"library_saved": bool, "sync_error": the last failure's one line or None}."""


@dataclass(frozen=True)
class Change:
    """What one verdict (or its undoing) changed among the specimens not yet reviewed."""

    specimen: int
    before: str  # "species" or "species (novel?)"
    after: str


class LiveReview:
    """The sample's identification (`identified`) kept current as verdicts come (thread-safe: one verdict at a
    time)."""

    def __init__(self, library: ReferenceLibrary, sample: SampleEmbeddings,
                 settings: IdentifySettings = IdentifySettings(), *, verdicts: Sequence[Verdict] = (),
                 order: str = "benefit", seed: int = 0, keeper: Keeper | None = None,
                 errors: dict[int, str] | None = None):
        """
        Args:
            library: the library as it stands (the review's verdicts not yet among its references).
            sample: the sample's kept embeddings.
            settings: the vote, its re-ranking and which specimens are grouped.
            verdicts: verdicts made before the review was opened again (`verdicts.csv`).
            order: which specimen comes next (`metrics.review_order.ORDERS`), recomputed after every verdict.
            seed: of the random order.
            keeper: where every change is kept (None: in memory only).
            errors: the error of each unreadable file (for predictions.csv).
        """
        if order not in ORDERS:
            raise ValueError(f"order={order!r}: one of {', '.join(ORDERS)}")
        self.settings, self.rule, self.keeper = settings.for_library(library), order, keeper
        self._rank = np.random.default_rng(seed).permutation(len(sample.files))  # the random order, fixed
        self.k = self.settings.k or library.k
        self.sample, self.lock, self.errors = sample, threading.RLock(), dict(errors or {})
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

    def __enter__(self) -> LiveReview:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """The review ended: its keeper writes what is left."""
        if self.keeper is not None:
            self.keeper.close()

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
            self._grow(ids, [self._verdicts[i].species for i in ids])

    def _grow(self, ids: list[int], species: list[str]) -> None:
        self.library = self.library.with_references(self.sample.embeddings[ids], species,
                                                    [self.files[i] for i in ids], [self._hash(i) for i in ids])

    def adopt(self, stored: ReferenceLibrary, ours: set[str]) -> list[Change]:
        """The library as it is stored now (read after each save, `review.saving`): what others changed meanwhile
        (another expert's review, `library add`, a relabel) joins this review, and the specimens not yet reviewed
        are identified again; returns what changed among them. `ours` (this sample's files that were not
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
                ranked = left[np.argsort(self._rank[left])] if self.rule == "random" else \
                    self.identified.review_order(self.rule, self.sample.embeddings, left)
                self._order = [int(i) for i in ranked if i not in self.skipped] + \
                    [int(i) for i in ranked if i in self.skipped]
            return list(self._order)

    def skip(self, i: int) -> None:
        with self.lock:
            self.skipped.add(i)
            self._order = None  # recomputed when asked

    def decide(self, i: int, species: str, validated_by: str, when: str | None = None) -> list[Change]:
        """Specimen `i` is `species` (a known species or a new name), `validated_by` an expert's: it becomes a
        reference, the rest are identified again; returns what changed among them.

        Args:
            i: the specimen (an index into the sample's files).
            species: its species.
            validated_by: who gave the verdict.
            when: when it was given (default: now).
        """
        species = checked_name(str(species).strip(), "verdict")
        if not species:
            raise ValueError("a verdict needs a species name")
        with self.lock:
            self._check(i)
            refuse_spelling_variants([species], [s for s in self.library.species if s != species])
            before = self._labels()
            self._remove_reference(i)
            self._verdicts[i] = Verdict(i, species, validated_by, when or now())
            self.skipped.discard(i)
            self._grow([i], [species])
            return self._changed(before)

    def decide_group(self, name: str, species: str, validated_by: str) -> list[Change]:
        """Every member of candidate group `name` is `species` (one growth of the library)."""
        with self.lock:
            members = next(([int(i) for i in g.members] for g in self.groups() if g.name == name), [])
            if not members:
                raise ValueError(f"no candidate group {name!r} (groups are renamed as verdicts come: reload)")
            species = checked_name(str(species).strip(), "verdict")
            refuse_spelling_variants([species], [s for s in self.library.species if s != species])
            before, when = self._labels(), now()
            for i in members:
                self._verdicts[i] = Verdict(i, species, validated_by, when)
            self._grow(members, [species] * len(members))
            return self._changed(before)

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
            return self._changed(before)

    def _changed(self, before: dict[int, str]) -> list[Change]:
        """After a change: the sample identified again, the change kept (`keeper`), what changed among the rest."""
        self._identify_all()
        if self.keeper is not None:
            self.keeper.changed(self)
        return self._changes(before)

    def _check(self, i: int) -> None:
        if not (0 <= i < len(self.files)) or not self.sample.readable[i]:
            raise ValueError(f"specimen {i}: no such readable specimen in this sample")

    def _hash(self, i: int) -> str:
        if not self.hashes.get(i):
            self.hashes[i] = file_sha1(self.files[i])
        return self.hashes[i]

    def _remove_reference(self, i: int) -> None:
        """Removes the reference a verdict on `i` added (the library's own references come first and stay)."""
        if i not in self._verdicts:
            return
        ours = np.arange(len(self.library.files)) >= len(self.base.files)
        keep = ~(ours & np.array([f == self.files[i] for f in self.library.files]))
        if not keep.all():
            self.library = self.library.subset(keep)

    def _identify_all(self) -> None:
        """Votes, scores and flags of every readable specimen against the current library (candidate groups:
        `groups`, when asked)."""
        identified = IdentifiedSample(self.sample.files, self.library, self.k, self.sample.samples)
        if len(self.readable):
            identified.record(self.readable, *vote(self.library, self.sample.embeddings[self.readable],
                                                   self.settings))
        for i in np.flatnonzero(~self.sample.readable):
            identified.record_unreadable(int(i), self.errors.get(int(i), "unreadable"))
        identified.validated = {i: Validation(v.species, v.validated_by) for i, v in self._verdicts.items()}
        self.identified, self._order = identified, None

    def groups(self) -> list[CandidateGroup]:
        """The candidate groups among the unreviewed specimens the settings group (`identify.groups`), largest
        first; computed when asked, not after every verdict (it costs as much as the rest of a re-identification)."""
        with self.lock:
            if self.identified.groups is None:
                chosen = chosen_for_grouping(self.settings.groups, self.unreviewed(), self.identified.novel)
                self.identified.groups = candidate_groups(self.sample.embeddings[chosen], chosen, self.library)
            return self.identified.groups

    def _labels(self) -> dict[int, str]:
        return {int(i): self.label(int(i)) for i in self.unreviewed()}

    def label(self, i: int) -> str:
        return self.identified.label(i)

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
            order = [int(self.identified.prediction[i])] + [int(library.labels[g]) for g in ids[0]]
            found: dict[int, list] = {s: [] for s in dict.fromkeys(order)}
            for g, d in zip(ids[0], distances[0]):
                refs = found[int(library.labels[g])]
                if len(refs) < REFERENCES_SHOWN:
                    refs.append({"reference": int(g), "file": library.files[g], "distance": float(d)})
            return [{"species": library.species[s], "references": refs} for s, refs in found.items()]

    def specimen(self, i: int) -> dict:
        """What the page shows of specimen `i` (`IdentifiedSample.specimen`)."""
        with self.lock:
            self._check(i)
            return {**self.identified.specimen(i), "file": self.files[i]}

    def progress(self) -> dict:
        with self.lock:
            return {"done": len(self._verdicts), "left": len(self.readable) - len(self._verdicts),
                    "flagged": int(self.identified.flagged().sum()),
                    "references": len(self.library.files), "species": len(self.library.species)}


def _references(library: ReferenceLibrary, leaving: set[str]) -> list[tuple[str, str]]:
    """(file, species) of every reference whose file is not in `leaving`, in order."""
    return [(f, library.species[label]) for f, label in zip(library.files, library.labels) if f not in leaving]

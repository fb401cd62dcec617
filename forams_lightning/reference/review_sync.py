"""What a live review writes: its verdicts at once (`verdicts.csv` in the run folder: a kill loses none), and in one
background thread the library folder (`reference.editing.apply_verdicts`, under the library's lock, a new version)
and the run folder's predictions.csv and groups.csv, as the review stands; the census when asked.

`verdicts.csv` (file, species, validated_by, when) is what `library add images=verdicts.csv` reads too, and what a
review started again on the same run folder resumes from.
"""

from __future__ import annotations

import csv
import logging
import threading
from pathlib import Path

import numpy as np

from forams_lightning.atomic import AtomicCsvWriter, atomic_write_csv
from forams_lightning.metrics.classification import genus_of
from forams_lightning.reference.census import census
from forams_lightning.reference.editing import apply_verdicts
from forams_lightning.reference.identification import header, prediction_row, unreadable_row
from forams_lightning.reference.live_review import LiveReview, Verdict
from forams_lightning.reference.novel_groups import GROUPS_HEADER

log = logging.getLogger(__name__)

VERDICTS = "verdicts.csv"
QUIET_S = 1.0  # the library is written once no verdict has come for this long
VERDICTS_HEADER = ["file", "species", "validated_by", "when"]


def write_verdicts(run: Path, review: LiveReview) -> None:
    atomic_write_csv(run / VERDICTS, VERDICTS_HEADER, [[review.files[v.specimen], v.species, v.validated_by, v.when]
                                                       for v in review.verdicts()])


def read_verdicts(run: Path, files: list[str]) -> list[Verdict]:
    """The verdicts a review of this run folder made before (none where it has no `verdicts.csv`)."""
    path = run / VERDICTS
    if not path.is_file():
        return []
    at = {f: i for i, f in enumerate(files)}
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    unknown = [r.get("file") for r in rows if r.get("file") not in at]
    if unknown or any(not (r.get("species") or "").strip() for r in rows):
        raise ValueError(f"{path}: rows of files that are not in this sample or without a species "
                         f"({unknown[:3]}); fix or move the file away to start the review afresh")
    return [Verdict(at[r["file"]], r["species"], r.get("validated_by") or "", r.get("when") or "") for r in rows]


def unreadable_errors(run: Path) -> dict[str, str]:
    """The error of every unreadable file, as `identify` wrote it into predictions.csv."""
    path = run / "predictions.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        return {r["file"]: r["error"] for r in csv.DictReader(f) if r.get("error")}


def write_predictions(run: Path, review: LiveReview, errors: dict[str, str]) -> None:
    """predictions.csv as the review stands: an expert's verdict (`validated_by` filled) or the automatic
    identification against the grown library of every file."""
    k, library = review.k, review.library
    with review.lock, AtomicCsvWriter(run / "predictions.csv", header(k)) as writer:
        verdicts, group = {v.specimen: v for v in review.verdicts()}, review.grouping()
        rows = []
        for i, file in enumerate(review.sample.files):
            if i in verdicts:
                v = verdicts[i]
                rows.append([file, v.species, genus_of(v.species), "", "", "", 0, "", *[""] * (3 * k), "",
                             v.validated_by])
            elif not review.sample.readable[i]:
                rows.append(unreadable_row(file, k, errors.get(file, "unreadable")))
            else:
                rows.append(prediction_row(file, library, int(review.prediction[i]), float(review.share[i]),
                                           review.neighbours[i], review.distances[i], float(review.score[i]),
                                           bool(review.novel[i]), str(group[i])))
        writer.write(rows)


def write_groups(run: Path, review: LiveReview) -> None:
    with review.lock:
        rows = []
        for name, members in review.groups():
            nearest = review.candidates(members[0])[0]
            rows.append([name, len(members), review.files[members[0]], nearest["species"],
                         f"{nearest['references'][0]['distance']:.5f}" if nearest["references"] else ""])
    atomic_write_csv(run / "groups.csv", GROUPS_HEADER, rows)


def census_rows(review: LiveReview, order: list[str] | None = None) -> list[list] | None:
    """`reference.census.census` of the sample as the review stands (verdicts count as identified, never flagged);
    None where the sample has no samples."""
    samples = review.sample.samples
    if samples is None:
        return None
    with review.lock:
        library, verdicts = review.library, {v.specimen: v for v in review.verdicts()}
        ids = review.ids
        prediction = np.array([library.species.index(verdicts[int(i)].species) if int(i) in verdicts
                               else int(review.prediction[i]) for i in ids], dtype=np.int64)
        novel = np.array([bool(review.novel[i]) and int(i) not in verdicts for i in ids], bool)
        unreadable: dict[str, int] = {}
        for i in np.flatnonzero(~review.sample.readable):
            unreadable[samples[i]] = unreadable.get(samples[i], 0) + 1
        group = review.grouping()
        return census([samples[i] for i in ids], prediction, novel, [str(group[i]) for i in ids],
                      library.species, library.confusion, library.confusion_flagged, unreadable, order)


class ReviewSync:
    """The library folder and the run folder brought in step with the review whenever it changes, in one background
    thread (a verdict answers at once; writing a library takes a second or more). `error` holds the last failure's
    one line (a full disk, a library another user locked for long) until a later sync succeeds."""

    def __init__(self, review: LiveReview, library_folder: Path, run: Path, ours: set[str]):
        self.review, self.library_folder, self.run, self.ours = review, library_folder, run, ours
        self.errors = unreadable_errors(run)
        self.generation = self.synced = 0
        self.error: str | None = None
        self.wake, self.stopping = threading.Event(), False
        self.thread = threading.Thread(target=self._loop, name="review-sync", daemon=True)

    def start(self) -> ReviewSync:
        self.thread.start()
        return self

    def changed(self) -> None:
        """Called after every verdict: the verdicts are written now, the rest in the background. Read and written
        under the review's lock: the last write holds every verdict, whichever request thread comes last."""
        with self.review.lock:
            write_verdicts(self.run, self.review)
            self.generation += 1
        self.wake.set()

    def _loop(self) -> None:
        while not self.stopping:
            self.wake.wait()
            self.wake.clear()
            # verdicts in quick succession are written as one version (writing competes with re-identifying)
            while not self.stopping and self.wake.wait(QUIET_S):
                self.wake.clear()
            self.sync()

    def sync(self) -> None:
        generation = self.generation
        if generation == self.synced:
            return
        review = self.review
        wanted = [(review.files[v.specimen], v.species, review.sample.embeddings[v.specimen],
                   review.hashes.get(v.specimen, "")) for v in review.verdicts()]
        try:
            stored, _ = apply_verdicts(self.library_folder, wanted, self.ours, f"live review of {self.run}")
            review.adopt(stored, self.ours)  # what other users changed meanwhile joins this review
            write_predictions(self.run, review, self.errors)
            write_groups(self.run, review)
            self.synced, self.error = generation, None
        except (OSError, ValueError, RuntimeError) as error:
            self.error = str(error)
            log.error("the library was not brought in step with the review (will try again with the next "
                      "verdict): %s", error)

    def close(self) -> None:
        """The last changes written before the review ends."""
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout=60)
        self.sync()

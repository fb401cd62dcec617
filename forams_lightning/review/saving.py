"""What a live review keeps, as its keeper (`review.session.Keeper`): its verdicts at once (`verdicts.csv` in the run
folder, `review.verdicts`: a kill loses none), and in one background thread the library folder
(`library.editing.apply_verdicts`, under the library's lock, a new version) and the run folder's predictions.csv and
groups.csv as the review stands (`identify.tables`); the census when asked.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from forams_lightning.identify.census_files import write_sample_census
from forams_lightning.identify.tables import write_tables
from forams_lightning.library.editing import apply_verdicts
from forams_lightning.review.session import LiveReview
from forams_lightning.review.verdicts import write_verdicts

log = logging.getLogger(__name__)

QUIET_S = 1.0  # the library is written once no verdict has come for this long


class ReviewSaver:
    """The library folder and the run folder brought in step with the review whenever it changes, in one background
    thread (a verdict answers at once; writing a library takes a second or more). `error` holds the last failure's
    one line (a full disk, a library another user locked for long) until a later save succeeds. `ours`: the
    sample's files that were not references before the review."""

    def __init__(self, library_folder: Path, run: Path, ours: set[str]):
        self.library_folder, self.run, self.ours = library_folder, run, ours
        self.review: LiveReview | None = None
        self.generation = self.synced = 0
        self.error: str | None = None
        self.wake, self.stopping = threading.Event(), False
        self.thread = threading.Thread(target=self._loop, name="review-save", daemon=True)

    def start(self, review: LiveReview) -> ReviewSaver:
        """Keeps `review` from now on (its keeper must be this saver)."""
        self.review = review
        self.thread.start()
        return self

    def changed(self, review: LiveReview) -> None:
        """After every change, under the review's lock: the verdicts written now, the rest in the background."""
        write_verdicts(self.run, review.verdicts(), review.files)
        self.generation += 1
        self.wake.set()

    def status(self) -> dict:
        return {"library_saved": self.synced == self.generation, "sync_error": self.error}

    def _loop(self) -> None:
        while not self.stopping:
            self.wake.wait()
            self.wake.clear()
            # verdicts in quick succession are written as one version (writing competes with re-identifying)
            while not self.stopping and self.wake.wait(QUIET_S):
                self.wake.clear()
            self.sync()

    def sync(self) -> None:
        """The library and the run folder's tables in step with the review as it stands now."""
        review, generation = self.review, self.generation
        if review is None or generation == self.synced:
            return
        wanted = [(review.files[v.specimen], v.species, review.sample.embeddings[v.specimen],
                   review.hashes.get(v.specimen, "")) for v in review.verdicts()]
        try:
            stored, _ = apply_verdicts(self.library_folder, wanted, self.ours, f"live review of {self.run}")
            review.adopt(stored, self.ours)  # what other users changed meanwhile joins this review
            with review.lock:
                review.groups()
                write_tables(self.run, review.identified)
            self.synced, self.error = generation, None
        except (OSError, ValueError, RuntimeError) as error:
            self.error = str(error)
            log.error("the library was not brought in step with the review (will try again with the next "
                      "verdict): %s", error)

    def close(self) -> None:
        """The last changes written before the review ends."""
        self.stopping = True
        self.wake.set()
        if self.thread.is_alive():
            self.thread.join(timeout=60)
        self.sync()


def write_census(review: LiveReview, run: Path) -> list[list] | None:
    """The census files of the sample as the review stands (verdicts count as identified, never flagged); returns
    the long rows, None where the sample comes as no samples."""
    with review.lock:
        review.groups()
        return write_sample_census(run, review.identified, review.sample.images)

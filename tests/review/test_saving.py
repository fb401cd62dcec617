"""What a review keeps (`review.saving.ReviewSaver`, the keeper `open_review` gives the session): every verdict in
verdicts.csv before it is answered, the library and the run folder's tables once it closes, a failure said and
retried; what other users add joins the review at its next save."""

import csv

import pytest
from helpers import index_of, open_sample_review, pattern
from PIL import Image

from forams_lightning.library.storage import load_library


def _verdicts(run) -> list[dict]:
    return list(csv.DictReader((run / "verdicts.csv").open()))


def test_a_verdict_is_on_disk_before_it_is_answered_without_the_script_saying_so(identified):
    folder, run = identified
    review = open_sample_review(folder, run)
    i = index_of(review, "4.png")
    review.decide(i, "G. b", "A. Expert")
    assert [(v["species"], v["validated_by"]) for v in _verdicts(run)] == [("G. b", "A. Expert")]
    review.undo([i])
    assert _verdicts(run) == []
    review.decide(i, "G. a", "A. Expert")
    review.close()  # the last of it: the library and predictions.csv follow the verdicts
    assert review.keeper.status() == {"library_saved": True, "sync_error": None}
    grown = load_library(folder)
    assert len(grown.files) == 13 and grown.species[grown.labels[-1]] == "G. a"
    rows = {r["file"]: r for r in csv.DictReader((run / "predictions.csv").open())}
    assert sum(r["validated_by"] == "A. Expert" for r in rows.values()) == 1 and (run / "groups.csv").is_file()


def test_a_session_without_a_keeper_keeps_its_verdicts_in_memory_only(identified):
    from forams_lightning.identify import load_sample_embeddings
    from forams_lightning.review import LiveReview

    folder, run = identified
    review = LiveReview(load_library(folder), load_sample_embeddings(run))
    review.decide(index_of(review, "4.png"), "G. b", "A. Expert")
    review.close()
    assert review.progress()["done"] == 1 and not (run / "verdicts.csv").exists()
    assert len(load_library(folder).files) == 12


def test_a_library_that_cannot_be_saved_is_said_and_tried_again_at_the_next_verdict(identified, monkeypatch):
    from forams_lightning.review import saving

    folder, run = identified
    review = open_sample_review(folder, run)

    def full_disk(*_, **__):
        raise OSError(f"library={folder}: could not be written (no space left on its disk)")

    with monkeypatch.context() as patched:
        patched.setattr(saving, "apply_verdicts", full_disk)
        review.decide(index_of(review, "4.png"), "G. b", "A. Expert")
        review.keeper.sync()
        assert review.keeper.status() == {"library_saved": False,
                                          "sync_error": f"library={folder}: could not be written (no space left "
                                                        "on its disk)"}
        assert len(_verdicts(run)) == 1 and len(load_library(folder).files) == 12
    review.decide(index_of(review, "5.png"), "G. a", "A. Expert")
    review.close()
    assert review.keeper.status()["library_saved"] and len(load_library(folder).files) == 14


@pytest.mark.parametrize("samples", [True, False])
def test_the_census_as_the_review_stands_counts_a_verdict_as_identified(identified, samples):
    from forams_lightning.review import write_census

    folder, run = identified
    review = open_sample_review(folder, run)
    if not samples:
        review.sample.samples = None
    i = index_of(review, "0.png")  # flagged or not, a verdict counts as its species
    review.decide(i, "Novus testus", "A. Expert")
    rows = write_census(review, run)
    review.close()
    if not samples:
        assert rows is None
        return
    counted = {(r[0], r[2]): r[3] for r in rows if r[1] == "species"}
    assert counted[("s0", "Novus testus")] == 1 and (run / "census.csv").is_file()


def test_references_another_user_adds_join_the_review_at_its_next_save(identified, tmp_path):
    """Another expert's `library add` while this review runs: after this review's next save its specimens are
    identified against those references too, and this review's own verdicts stay on top."""
    from forams_lightning.library.editing import add_references

    folder, run = identified
    review = open_sample_review(folder, run)
    first = index_of(review, "0.png")  # of the species the library does not hold (colour channel 2)
    assert not review.label(first).startswith("G. c")
    new = tmp_path / "added"
    new.mkdir()
    for i in range(4):
        Image.fromarray(pattern(300 + i, 2)).save(new / f"c{i}.png")
    add_references(folder, str(new), species="G. c")
    review.decide(index_of(review, "3.png"), "G. b", "A")
    review.close()
    assert review.label(first).startswith("G. c") and "G. c" in review.library.species
    assert len(review.library.files) == 12 + 4 + 1 and review.library.files[-1].endswith("3.png")
    assert len(load_library(folder).files) == 12 + 4 + 1
    assert review.adopt(load_library(folder), review.keeper.ours) == []  # nobody changed anything since

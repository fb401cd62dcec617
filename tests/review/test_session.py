"""The live review: verdicts grow the library as they are made, re-identify the rest, come back on undo, resume from
verdicts.csv."""

import csv
from pathlib import Path

import numpy as np
import pytest
from helpers import TWIN_NAME, index_of, open_sample_review

from forams_lightning.identify.groups import CandidateGroup
from forams_lightning.library.storage import load_library


def test_a_verdict_re_identifies_the_specimen_whose_neighbour_it_became_and_undo_takes_it_back(identified):
    folder, run = identified
    review = open_sample_review(folder, run)
    a, b = index_of(review, "0.png"), index_of(review, "twin.png")
    assert review.specimen(b)["species"] != TWIN_NAME
    changes = review.decide(a, TWIN_NAME, "A. Expert")
    assert [(c.specimen, c.after) for c in changes if c.specimen == b] == [(b, TWIN_NAME)]
    assert review.progress()["done"] == 1 and a not in review.order()
    review.close()
    grown = load_library(folder)
    assert grown.counts()[TWIN_NAME] == 1 and grown.info["history"][-1]["command"] == "review"
    rows = {Path(r["file"]).name: r for r in csv.DictReader((run / "predictions.csv").open())}
    assert rows["0.png"]["validated_by"] == "A. Expert" and rows["twin.png"]["species"] == TWIN_NAME
    assert rows["twin.png"]["validated_by"] == "" and rows["5.png"]["species"] in ("G. a", "G. b")
    back = review.undo([a])
    assert [c.after for c in back if c.specimen == b] != [TWIN_NAME] and review.specimen(b)["species"] != TWIN_NAME
    review.close()
    assert TWIN_NAME not in {s for s, n in load_library(folder).counts().items() if n}


def test_a_review_resumes_from_its_verdicts_and_a_group_verdict_names_every_member(identified):
    folder, run = identified
    review = open_sample_review(folder, run)
    review.decide(index_of(review, "3.png"), "G. b", "A")
    review.decide(index_of(review, "0.png"), "Globus novus", "A")
    review.close()
    again = open_sample_review(folder, run)  # the verdicts as one growth of the library: the same state
    assert again.progress()["done"] == 2 and again.library.files == review.library.files
    np.testing.assert_array_equal(again.identified.prediction, review.identified.prediction)
    np.testing.assert_array_equal(again.identified.novel, review.identified.novel)
    assert again.order() == review.order()
    again.identified.groups = [CandidateGroup("G1", np.array(again.order()[:2]), 0, 0.0)]
    again.decide_group("G1", "Globus novus", "B")
    assert again.progress()["done"] == 4
    with pytest.raises(ValueError, match="no candidate group 'G7'"):
        again.decide_group("G7", "x", "B")
    with pytest.raises(ValueError, match="Globus novus"):
        again.decide(again.order()[0], "globus novus", "B")
    again.close()

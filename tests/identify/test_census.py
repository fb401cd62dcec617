"""A sample's census rows: counts, raw and adjusted shares, the unexplained share, candidate groups and unreadable
files, per sample in order."""

from __future__ import annotations

import numpy as np
import pytest

from forams_lightning.identify.census import UNEXPLAINED, census, sample_census


def test_a_sample_census_has_the_unexplained_row_the_groups_and_the_unreadable():
    prediction = np.array([0, 0, 1, 1, 1, 0, 0, 0])
    novel = np.array([0, 0, 0, 0, 0, 1, 1, 1], bool)
    rows = sample_census(prediction, novel, ["", "", "", "", "", "G2", "G1", "G1"], ["a", "b"], confusion=None,
                         confusion_flagged=None, unreadable=2)
    table = {r[1]: r for r in rows}
    assert [r[0] for r in rows] == ["species", "species", "unexplained", "novel group", "novel group", "unreadable"]
    assert table["a"][2:4] == [2, 0.25] and table["b"][2:4] == [3, 0.375] and table["G1"][2:4] == [2, 0.25]
    assert table[UNEXPLAINED][2:4] == [3, 0.375] and table[UNEXPLAINED][6] == 0.375  # no confusion: as counted
    assert table["G1"][6:] == ["", "", ""] and table["files that could not be read"][2] == 2
    # with a confusion: every share of the whole sample (posterior medians: they sum to about 1)
    adjusted = sample_census(prediction, novel, [""] * 8, ["a", "b"], confusion=np.array([[18, 2], [1, 19]]),
                             confusion_flagged=np.array([0, 0]))
    assert sum(r[6] for r in adjusted if r[0] in ("species", "unexplained")) == pytest.approx(1, abs=0.1)
    assert all(r[7] <= r[6] <= r[8] for r in adjusted if r[0] in ("species", "unexplained"))


def test_a_sample_of_one_specimen_gets_a_wide_interval():
    rows = sample_census(np.array([0]), np.array([False]), [""], ["a", "b"], confusion=np.array([[20, 1], [1, 20]]),
                         confusion_flagged=np.array([1, 1]))
    low, high = rows[0][7], rows[0][8]
    assert low < 0.5 and high > 0.9  # one specimen says little; the bootstrap's [1, 1] said it was certain


def test_census_rows_come_per_sample_in_the_order_given_and_keep_an_unreadable_sample():
    rows = census(["s2", "s1", "s2"], np.array([0, 1, 1]), np.zeros(3, bool), ["", "", ""], species=["a", "b"],
                  confusion=None, unreadable={"s3": 4}, order=["s3", "s2", "s1"])
    assert [(r[0], r[1], r[2], r[3]) for r in rows if r[1] != "unexplained"] == [
        ("s3", "unreadable", "files that could not be read", 4), ("s2", "species", "a", 1), ("s2", "species", "b", 1),
        ("s1", "species", "a", 0), ("s1", "species", "b", 1)]  # a species not seen keeps its row: its upper bound
    assert [r[6] for r in rows if r[:3] == ["s1", "species", "a"]] == [pytest.approx(0.7935, abs=1e-4)]

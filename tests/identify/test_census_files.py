"""census.csv's wide tables: one row a sample, one column a species, in depth order where a samples table gives it."""

from __future__ import annotations

import csv

import pytest
from helpers import census_rows

from forams_lightning.identify.census_files import wide_tables, write_census


def test_the_wide_tables_have_one_row_a_sample_and_one_column_a_species(tmp_path):
    species = ["a b", "c d", "e f"]
    rows = census_rows(3, species) + [["s3", "unreadable", "files that could not be read", 5] + [""] * 6]
    positions = sample_positions_for({"s0": 1.0, "s1": 2.0, "s2": 3.0, "s3": 4.0})
    header, counts, shares = wide_tables(rows, species, positions)
    assert header == ["sample", "depth", "specimens", "a b", "c d", "e f", "unexplained", "unreadable"]
    assert [r[0] for r in counts] == ["s0", "s1", "s2", "s3"] and all(r[2] == 40 for r in counts[:3])
    assert all(sum(r[3:7]) == 40 for r in counts[:3]) and counts[3][2:] == [0, 0, 0, 0, 0, 5]
    assert all(sum(r[3:7]) == pytest.approx(1, abs=0.06) for r in shares[:3]) and shares[3][3] == ""
    written = write_census(tmp_path, rows, species, positions)
    assert [p.name for p in written] == ["census.csv", "census-wide.csv", "census-wide-adjusted.csv", "census.png"]
    with (tmp_path / "census-wide.csv").open() as f:
        assert next(csv.reader(f)) == header


def sample_positions_for(values: dict[str, float]):
    from forams_lightning.data.samples import SamplePositions

    return SamplePositions("depth", values)

"""Candidate new species in identify's outputs: groups.csv, the group column, every specimen or none grouped."""

from __future__ import annotations

import csv
import json

import pytest
from helpers import compose_app, two_samples

from forams_lightning.identify.command import identify_command


def test_identify_groups_novel_specimens_and_counts_each_sample(withheld_run, lib, tmp_path):
    """A library exported from an open-set run groups the specimens it flags novel (cut calibrated on the run's
    cross-fitted species) and writes groups.csv, the predictions' group column, census.csv/.png and the group page."""
    manifest = json.loads((lib / "manifest.json").read_text())
    assert manifest["grouping"]["source"] == "the whitening's cross-fitted training species"
    assert manifest["confusion"] and sum(c for _, _, c in manifest["confusion"]) > 0
    root, truth = two_samples(withheld_run, tmp_path)
    out = tmp_path / "identified"
    identify_command(compose_app("identify", [f"library={lib}", f"images={root}", "num_workers=0"], out))
    with open(out / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    novel = [r for r in rows if r["novel"] == "1"]
    assert novel and all(r["group"] for r in novel) and not any(r["group"] for r in rows if r["novel"] == "0")
    with open(out / "groups.csv", newline="") as f:
        groups = list(csv.DictReader(f))
    assert sum(int(g["size"]) for g in groups) == len(novel)
    assert [int(g["size"]) for g in groups] == sorted((int(g["size"]) for g in groups), reverse=True)
    assert {g["medoid"] for g in groups} <= {r["file"] for r in novel}
    with open(out / "census.csv", newline="") as f:
        census = list(csv.DictReader(f))
    for sample in ("core_A", "core_B"):
        mine = [r for r in census if r["sample"] == sample and r["kind"] in ("species", "unexplained")]
        assert sum(int(r["count"]) for r in mine) == sum(f"/{sample}/" in file for file in truth)
        # adjusted shares of the whole sample (posterior medians: they sum to about 1)
        assert sum(float(r["adjusted_proportion"]) for r in mine) == pytest.approx(1, abs=0.1)
        assert all(float(r["low_95"]) <= float(r["proportion"]) <= float(r["high_95"]) for r in mine)
        assert all(float(r["adjusted_low_95"]) <= float(r["adjusted_proportion"]) <= float(r["adjusted_high_95"])
                   for r in mine)
        groups = [r for r in census if r["sample"] == sample and r["kind"] == "novel group"]
        assert sum(int(r["count"]) for r in groups) == sum(int(r["count"]) for r in mine if r["kind"] != "species")
    with open(out / "census-wide.csv", newline="") as f:
        wide = list(csv.DictReader(f))
    assert [r["sample"] for r in wide] == ["core_A", "core_B"]
    assert all(int(r["specimens"]) == sum(f"/{r['sample']}/" in file for file in truth) for r in wide)
    assert (out / "census.png").stat().st_size > 0 and (out / "review-groups.html").is_file()
    assert (out / "census-wide-adjusted.csv").is_file()


def test_grouping_every_specimen_or_none(withheld_run, lib, tmp_path):
    root, truth = two_samples(withheld_run, tmp_path)
    for scope in ("all", "none"):
        out = tmp_path / scope
        identify_command(compose_app("identify", [f"library={lib}", f"images={root}", "num_workers=0",
                                                  f"groups={scope}", "review.enabled=false"], out))
        with open(out / "predictions.csv", newline="") as f:
            grouped = [bool(r["group"]) for r in csv.DictReader(f)]
        assert all(grouped) if scope == "all" else not any(grouped)
        assert (out / "groups.csv").is_file() == (scope == "all")

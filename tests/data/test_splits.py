"""Seeded, stratified, group-aware and species-level splits; saved and read back."""

from collections import Counter

import numpy as np
import pytest
from helpers import shared_dataset
from hydra.utils import instantiate

from forams_lightning.data.splits import (
    OPEN_SET_PRESETS,
    group_split,
    held_out_species,
    load_split,
    save_split,
    stratified_split,
)

SPECIES = [f"sp{i:02d}" for i in range(35)]


def test_paper_tail10_is_the_footnote_read_one_based():
    chosen = held_out_species(SPECIES, "paper_tail10")
    assert [SPECIES.index(s) + 1 for s in chosen] == [1, 5, 9, 14, 22, 23, 26, 29, 33, 34]
    assert OPEN_SET_PRESETS["paper_tail10"][-1] == 33


def test_unknown_by_names_or_indices_and_clear_errors():
    assert held_out_species(SPECIES, ["sp03", 0]) == ["sp00", "sp03"]
    with pytest.raises(ValueError, match="'nope' is not in the data"):
        held_out_species(SPECIES, ["nope"])
    with pytest.raises(ValueError, match="needs at least 34 species"):
        held_out_species(SPECIES[:20], "paper_tail10")


def test_species_folds_partition_the_species():
    folds = [held_out_species(SPECIES, folds=5, fold=i, seed=3) for i in range(5)]
    assert sorted(s for f in folds for s in f) == SPECIES
    assert all(len(f) == 7 for f in folds)
    assert folds[0] != held_out_species(SPECIES, folds=5, fold=0, seed=4)
    with pytest.raises(ValueError, match="0 <= fold < folds"):
        held_out_species(SPECIES, folds=5, fold=5)


@pytest.mark.parametrize("overrides", [
    ["data.open_set.folds=5", "data.open_set.fold=2"],
    ["data.open_set.unknown=paper_tail10"],
])
def test_withheld_species_never_reach_train_or_val(make_cfg, overrides):
    cfg = make_cfg("data.synthetic.n_species=35", "data.synthetic.max_images=8", "data.synthetic.min_images=4",
                   *overrides)
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.setup()
    unknown = set(dm.split_report["unknown_species"])
    assert unknown and len(dm.species) == 35 and dm.num_classes == 35 - len(unknown)
    for sample, part, label in zip(dm.samples, dm.parts, dm.labels):
        assert (part == "unknown_test") == (sample.species in unknown)
        assert (label >= dm.num_classes) == (sample.species in unknown)
    assert dm.eval_parts("test") == ["train", "test", "unknown_test"]
    assert dm.eval_parts("val") == ["train", "val"]


def test_radiolaria_class_disjoint_preset(make_cfg):
    root = shared_dataset("radiolaria")
    dm = instantiate(make_cfg("data=radiolaria", f"data.root={root}").data)
    dm.setup()
    counts = Counter(dm.parts)
    assert len({s.species for s, p in zip(dm.samples, dm.parts) if p == "unknown_test"}) == 67
    assert len({s.species for s, p in zip(dm.samples, dm.parts) if p == "unknown_val"}) == 53
    assert dm.num_classes == 161 and counts["unknown_test"] == 530
    assert dm.eval_parts("val") == ["train", "val", "unknown_val"]
    assert dm.eval_parts("test") == ["train", "test", "unknown_test", "unknown_val"]


def _species(counts):
    return [f"s{i}" for i, c in enumerate(counts) for _ in range(c)]


def test_split_is_deterministic_and_seed_dependent():
    species = _species([40, 25, 10, 6])
    a, _ = stratified_split(species, seed=1)
    b, _ = stratified_split(species, seed=1)
    c, _ = stratified_split(species, seed=2)
    assert a == b and a != c


def test_split_is_stratified_per_species():
    species = _species([100, 40, 20])
    parts, report = stratified_split(species, val_fraction=0.2, test_fraction=0.1, seed=0)
    for s, n in Counter(species).items():
        got = Counter(p for sp, p in zip(species, parts) if sp == s)
        assert got["val"] == round(0.2 * n) and got["test"] == round(0.1 * n)
        assert got["train"] == n - got["val"] - got["test"]
    assert report["n_train"] + report["n_val"] + report["n_test"] == len(species)


def test_small_species_go_to_train_only_and_are_reported():
    species = _species([20, 2, 3])
    parts, report = stratified_split(species, min_units=3, seed=0)
    assert report["train_only_species"] == ["s1"]
    assert [p for s, p in zip(species, parts) if s == "s1"] == ["train", "train"]
    assert Counter(p for s, p in zip(species, parts) if s == "s2") == {"train": 1, "val": 1, "test": 1}


def test_groups_never_span_two_parts():
    rng = np.random.default_rng(0)
    species, groups = [], []
    for s in range(4):
        for g in range(8):
            n = int(rng.integers(1, 6))
            species += [f"s{s}"] * n
            groups += [f"s{s}-specimen{g}"] * n
    parts, _ = stratified_split(species, groups, seed=3)
    part_of = {}
    for g, p in zip(groups, parts):
        assert part_of.setdefault(g, p) == p
    assert set(parts) == {"train", "val", "test"}


def test_group_with_two_species_is_an_error():
    with pytest.raises(ValueError, match="group 'g1' holds images of two species"):
        stratified_split(["a", "b"], ["g1", "g1"])


def test_split_round_trip_and_mismatch_errors(tmp_path):
    paths, species = ["a/1.jpg", "a/2.jpg", "b/3.jpg"], ["a", "a", "b"]
    parts = ["train", "val", "test"]
    save_split(tmp_path / "split.csv", paths, species, parts)
    assert load_split(tmp_path / "split.csv", paths, species) == parts
    with pytest.raises(ValueError, match="species changed"):
        load_split(tmp_path / "split.csv", paths, ["a", "b", "b"])
    with pytest.raises(ValueError, match="does not list 1 image"):
        load_split(tmp_path / "split.csv", paths + ["c/4.jpg"], species + ["c"])
    with pytest.raises(ValueError, match="not in the data any more"):
        load_split(tmp_path / "split.csv", paths[:2], species[:2])


def test_group_split_places_named_groups_and_names_bad_ones():
    groups = ["100", "200", "100", "300", "500"]
    parts, report = group_split(groups, {"train": [100, 200], "val": [300], "test": ["500"]})
    assert parts == ["train", "train", "train", "val", "test"]
    assert (report["n_train"], report["n_val"], report["n_test"]) == (3, 1, 1)
    with pytest.raises(ValueError, match=r"group\(s\) \['300'\]"):
        group_split(groups, {"train": [100, 200], "test": [500]})
    with pytest.raises(ValueError, match="listed under 'train' and 'test'"):
        group_split(groups, {"train": [100, 200, 300], "test": [500, 100]})
    with pytest.raises(ValueError, match="parts must be"):
        group_split(groups, {"training": [100, 200, 300, 500]})

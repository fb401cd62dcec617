from collections import Counter

import numpy as np
import pytest

from forams_lightning.data.splits import group_split, load_split, save_split, stratified_split


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

"""Candidate new species and the census: the pure parts against hand-computed values, the files they read."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from forams_lightning.data.samples import sample_images
from forams_lightning.evaluation.species_count import SpeciesCount
from forams_lightning.metrics.census import (
    adjusted_interval,
    adjusted_proportions,
    confusion_rates,
    wilson_interval,
)
from forams_lightning.metrics.reranking import Reranking
from forams_lightning.reference.census import census, sample_census, square_confusion
from forams_lightning.reference.discovery import Grouping, by_size, calibrate_grouping, summarise_groups
from forams_lightning.reference.manifest import read_manifest


def test_wilson_interval_matches_hand_computed_values():
    low, high = wilson_interval(np.array([0, 5, 10]), 10)
    # Wilson (1927): 5 of 10 -> 0.2366..0.7634; 0 of 10 -> 0..0.2775 (z = 1.95996)
    np.testing.assert_allclose(low, [0.0, 0.23659, 0.72247], atol=1e-5)
    np.testing.assert_allclose(high, [0.27753, 0.76341, 1.0], atol=1e-5)
    assert [v.tolist() for v in wilson_interval(np.array([0, 0]), 0)] == [[0, 0], [0, 0]]


def test_adjusted_proportions_undo_a_known_confusion():
    rates = np.array([[0.8, 0.2, 0.0], [0.1, 0.9, 0.0], [0.0, 0.3, 0.7]])
    truth = np.array([0.5, 0.2, 0.3])
    observed = rates.T @ truth * 300  # counts as identified
    np.testing.assert_allclose(adjusted_proportions(observed, rates), truth, atol=1e-6)
    np.testing.assert_allclose(adjusted_proportions(np.array([3.0, 1.0]), np.eye(2)), [0.75, 0.25])
    # observed shares no true shares explain (more of species 0 than any p can give) stay on the simplex
    p = adjusted_proportions(np.array([10.0, 0.0]), np.array([[0.5, 0.5], [0.0, 1.0]]))
    assert p.min() >= 0 and p.sum() == pytest.approx(1) and p[0] == pytest.approx(1)


def test_confusion_rates_take_a_species_without_held_out_images_as_identified():
    rates = confusion_rates(np.array([[3, 1, 0], [0, 0, 0], [0, 1, 1]]))
    np.testing.assert_allclose(rates, [[0.75, 0.25, 0], [0, 1, 0], [0, 0.5, 0.5]])
    # prior counts of correct identification: few held-out images stay near the identity
    np.testing.assert_allclose(confusion_rates(np.array([[0, 2], [0, 0]]), prior=2), [[0.5, 0.5], [0, 1]])


def test_adjusted_interval_holds_the_truth_and_narrows_with_a_better_known_confusion():
    truth = np.array([0.6, 0.4])
    rates = np.array([[0.9, 0.1], [0.2, 0.8]])
    counts = np.round(rates.T @ truth * 400).astype(int)
    few, many = (np.round(rates * n).astype(int) for n in (20, 2000))
    (lo_few, hi_few), (lo_many, hi_many) = (adjusted_interval(counts, c, draws=300) for c in (few, many))
    assert np.all(lo_many <= truth) and np.all(truth <= hi_many)
    assert np.all(hi_few - lo_few > hi_many - lo_many)


def test_groups_are_numbered_by_size():
    np.testing.assert_array_equal(by_size(np.array([5, 2, 2, 9, 9, 9, 5])), [1, 2, 2, 0, 0, 0, 1])


def _blobs(n_species: int, per: int, seed: int, spread: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_species, 16))
    x = np.repeat(centres, per, 0) + spread * rng.normal(size=(n_species * per, 16))
    return x.astype(np.float32), np.repeat(np.arange(n_species), per)


def test_a_cut_calibrated_on_labelled_species_groups_new_ones_into_their_species():
    sets = [_blobs(6, 8, seed=1), _blobs(6, 8, seed=2)]
    grouping = calibrate_grouping(sets, "cosine", SpeciesCount(linkage="average"), Reranking(), None, "blobs")
    x, species = _blobs(5, 7, seed=3)
    groups = grouping.groups(x)
    assert len(np.unique(groups)) == 5 and normalized_mutual_info_score(species, groups) == pytest.approx(1)
    # counted at a share: the whole set cut into the mean count of draws
    shared = Grouping(grouping.threshold, "average", share=0.7).groups(x)
    assert len(np.unique(shared)) == 5
    assert Grouping(grouping.threshold).groups(x[:1]).tolist() == [0]


def test_group_summaries_put_the_medoid_first_and_name_the_nearest_species():
    x = np.array([[1, 0.0], [1, 0.1], [1, -0.1], [0, 1.0]], np.float32)
    references, labels = np.array([[0.0, 1.0], [1.0, 0.02]], np.float32), np.array([7, 3])
    summaries = summarise_groups(x, np.array([0, 0, 0, 1]), references, labels, "cosine")
    assert summaries[0].members.tolist()[0] == 0 and sorted(summaries[0].members.tolist()) == [0, 1, 2]
    assert (summaries[0].nearest_species, summaries[1].nearest_species) == (3, 7)
    assert summaries[1].nearest_distance == pytest.approx(0, abs=1e-6)


def test_a_sample_census_counts_every_specimen_and_lists_novel_groups_apart():
    prediction = np.array([0, 0, 1, 1, 1, 0, 0, 0])
    novel = np.array([0, 0, 0, 0, 0, 1, 1, 1], bool)
    rows = sample_census(prediction, novel, ["", "", "", "", "", "G2", "G1", "G1"], ["a", "b"], None)
    table = {r[1]: r for r in rows}
    assert [r[1] for r in rows] == ["a", "b", "G1", "G2"]
    assert table["a"][2:4] == [2, 0.25] and table["b"][2:4] == [3, 0.375] and table["G1"][2:4] == [2, 0.25]
    assert table["a"][6] == pytest.approx(0.25, abs=1e-4)  # no confusion counts: adjusted = counted
    # the adjustment moves the known species' share only
    confusion = np.array([[8, 2], [0, 10]])
    adjusted = {r[1]: r[6] for r in sample_census(prediction, novel, [""] * 5 + ["G2", "G1", "G1"], ["a", "b"],
                                                   confusion)}
    # known shares counted 0.4 / 0.6 = Rᵀp with R = [[13, 2], [0, 15]] / 15 (5 prior counts on the diagonal):
    # p_a = 0.4 * 15 / 13, of the 5 known of 8
    assert adjusted["a"] == pytest.approx(0.4 * 15 / 13 * 5 / 8, abs=1e-3)
    assert adjusted["b"] == pytest.approx((1 - 0.4 * 15 / 13) * 5 / 8, abs=1e-3)
    assert adjusted["G1"] == 0.25
    assert square_confusion(confusion, 3)[2].tolist() == [0, 0, 0]


def test_census_rows_come_per_sample():
    rows = census(["s2", "s1", "s2"], np.array([0, 1, 1]), np.zeros(3, bool), ["", "", ""], ["a", "b"], None)
    assert [(r[0], r[2], r[3]) for r in rows] == [("s1", "b", 1), ("s2", "a", 1), ("s2", "b", 1)]


def _image(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(path)
    return path


def test_samples_come_from_sub_folders_or_a_csv_column(tmp_path):
    for name in ("core1/a.png", "core1/deep/b.png", "core2/c.png", "loose.png"):
        _image(tmp_path / "sample" / name)
    files, samples = sample_images(str(tmp_path / "sample"))
    assert dict(zip([f.rsplit("/", 1)[1] for f in files], samples)) == {"a.png": "core1", "b.png": "core1",
                                                                        "c.png": "core2", "loose.png": "sample"}
    _image(tmp_path / "flat" / "x.png")
    assert sample_images(str(tmp_path / "flat"))[1] is None
    listing = tmp_path / "list.csv"
    listing.write_text("\ufefffile,sample\nsample/core1/a.png,A\nsample/core2/c.png,B\n", encoding="utf-8")
    files, samples = sample_images(str(listing))
    assert files == [str(tmp_path / "sample/core1/a.png"), str(tmp_path / "sample/core2/c.png")]
    assert samples == ["A", "B"]
    listing.write_text("path\nx.png\n")
    with pytest.raises(ValueError, match="needs a 'file' column"):
        sample_images(str(listing))


@pytest.mark.parametrize("key, value, message", [
    ("grouping", {"threshold": 0.3, "linkage": "single"}, "grouping.linkage"),
    ("grouping", {"linkage": "average"}, "grouping: expected an object with threshold"),
    ("grouping", {"threshold": 0.3, "share": 1.5}, "grouping.share"),
    ("confusion", [[0, 5, 3]], "confusion: expected null or"),
    ("confusion", [[0, 1]], "confusion: expected null or"),
])
def test_a_damaged_grouping_or_confusion_is_refused_naming_the_key(small_library, key, value, message):
    path = small_library / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest[key] = value
    path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=message):
        read_manifest(path)


def test_beyond_the_tree_size_specimens_join_the_group_of_their_nearest_drawn_one(monkeypatch):
    import forams_lightning.reference.discovery as discovery

    x, species = _blobs(4, 30, seed=5)
    threshold = calibrate_grouping([_blobs(6, 8, seed=1)], "cosine", SpeciesCount(linkage="average"), Reranking(),
                                   None, "blobs").threshold
    whole = Grouping(threshold).groups(x)
    monkeypatch.setattr(discovery, "MAX_TREE", 40)
    drawn = Grouping(threshold).groups(x)
    assert normalized_mutual_info_score(species, drawn) == pytest.approx(1)
    np.testing.assert_array_equal(drawn, whole)

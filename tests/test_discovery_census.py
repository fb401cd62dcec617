"""Candidate new species and the census: the pure parts against hand-computed values, the files they read."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from forams_lightning.data.samples import sample_images
from forams_lightning.evaluation.species_count import SpeciesCount
from forams_lightning.library.grouping import Grouping, by_size, calibrate_grouping, summarise_groups
from forams_lightning.library.manifest import read_manifest
from forams_lightning.metrics.census import wilson_interval
from forams_lightning.metrics.reranking import Reranking


def test_wilson_interval_matches_hand_computed_values():
    low, high = wilson_interval(np.array([0, 5, 10]), 10)
    # Wilson (1927): 5 of 10 -> 0.2366..0.7634; 0 of 10 -> 0..0.2775 (z = 1.95996)
    np.testing.assert_allclose(low, [0.0, 0.23659, 0.72247], atol=1e-5)
    np.testing.assert_allclose(high, [0.27753, 0.76341, 1.0], atol=1e-5)
    assert [v.tolist() for v in wilson_interval(np.array([0, 0]), 0)] == [[0, 0], [0, 0]]


def test_groups_are_numbered_by_size():
    np.testing.assert_array_equal(by_size(np.array([5, 2, 2, 9, 9, 9, 5])), [1, 2, 2, 0, 0, 0, 1])


def _blobs(n_species: int, per: int, seed: int, spread: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_species, 16))
    x = np.repeat(centres, per, 0) + spread * rng.normal(size=(n_species * per, 16))
    return x.astype(np.float32), np.repeat(np.arange(n_species), per)


def test_a_cut_calibrated_on_labelled_species_groups_new_ones_into_their_species():
    sets = [_blobs(6, 8, seed=1), _blobs(6, 8, seed=2)]
    grouping = calibrate_grouping(sets, "cosine", SpeciesCount(linkage="average"), Reranking(), share=None,
                                  source="blobs")
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
    summaries = summarise_groups(x, np.array([0, 0, 0, 1]), references, labels, metric="cosine")
    assert summaries[0].members.tolist()[0] == 0 and sorted(summaries[0].members.tolist()) == [0, 1, 2]
    assert (summaries[0].nearest_species, summaries[1].nearest_species) == (3, 7)
    assert summaries[1].nearest_distance == pytest.approx(0, abs=1e-6)


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
    ("novelty_thresholds", [0.2, "x"], "novelty_thresholds: expected null or at most"),
    ("novelty_thresholds", [0.2] * 99, "novelty_thresholds: expected null or at most"),
    ("novelty_model", {"intercept": 1, "slope": 1, "spread": 1}, "novelty_model: expected null or an object"),
    ("novelty_model", {"intercept": float("nan"), "slope": 1, "spread": 1, "z": 1}, "novelty_model"),
    ("confusion_flagged", [[0, -1]], "confusion_flagged: expected null or"),
    ("confusion_flagged", [[999, 1]], "confusion_flagged: expected null or"),
])
def test_a_damaged_grouping_confusion_or_threshold_is_refused_naming_the_key(small_library, key, value, message):
    path = small_library / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest[key] = value
    path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=message) as error:
        read_manifest(path)
    assert "\n" not in str(error.value)


def test_beyond_the_tree_size_specimens_join_the_group_of_their_nearest_drawn_one(monkeypatch):
    import forams_lightning.library.grouping as discovery

    x, species = _blobs(4, 30, seed=5)
    threshold = calibrate_grouping([_blobs(6, 8, seed=1)], "cosine", SpeciesCount(linkage="average"), Reranking(),
                                   share=None, source="blobs").threshold
    whole = Grouping(threshold).groups(x)
    monkeypatch.setattr(discovery, "MAX_TREE", 40)
    drawn = Grouping(threshold).groups(x)
    assert normalized_mutual_info_score(species, drawn) == pytest.approx(1)
    np.testing.assert_array_equal(drawn, whole)

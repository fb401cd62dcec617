"""The clustering cut of candidate new species: groups numbered by size, calibrated on labelled species, medoids first,
large samples on a drawn tree."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from forams_lightning.evaluation.species_count import SpeciesCount
from forams_lightning.library.grouping import Grouping, by_size, calibrate_grouping, summarise_groups
from forams_lightning.metrics.reranking import Reranking


def _species_blobs(n_species: int, per: int, seed: int, spread: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """`per` points around each of `n_species` seeded centres, and their species."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_species, 16))
    x = np.repeat(centres, per, 0) + spread * rng.normal(size=(n_species * per, 16))
    return x.astype(np.float32), np.repeat(np.arange(n_species), per)

def test_groups_are_numbered_by_size():
    np.testing.assert_array_equal(by_size(np.array([5, 2, 2, 9, 9, 9, 5])), [1, 2, 2, 0, 0, 0, 1])




def test_a_cut_calibrated_on_labelled_species_groups_new_ones_into_their_species():
    sets = [_species_blobs(6, 8, seed=1), _species_blobs(6, 8, seed=2)]
    grouping = calibrate_grouping(sets, "cosine", SpeciesCount(linkage="average"), Reranking(), share=None,
                                  source="blobs")
    x, species = _species_blobs(5, 7, seed=3)
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


def test_beyond_the_tree_size_specimens_join_the_group_of_their_nearest_drawn_one(monkeypatch):
    import forams_lightning.library.grouping as discovery

    x, species = _species_blobs(4, 30, seed=5)
    threshold = calibrate_grouping([_species_blobs(6, 8, seed=1)], "cosine", SpeciesCount(linkage="average"),
                                   Reranking(), share=None, source="blobs").threshold
    whole = Grouping(threshold).groups(x)
    monkeypatch.setattr(discovery, "MAX_TREE", 40)
    drawn = Grouping(threshold).groups(x)
    assert normalized_mutual_info_score(species, drawn) == pytest.approx(1)
    np.testing.assert_array_equal(drawn, whole)

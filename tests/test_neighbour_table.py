"""The neighbour table a live review keeps: the same nearest neighbours, hubness, spread and sparsity as computed from
scratch, after references are added and removed."""

import numpy as np
import pytest

from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.metrics.knn import knn_search
from forams_lightning.metrics.neighbour_table import NeighbourTable, nearest_of
from forams_lightning.metrics.novelty import NoveltyScore, local_spread, novelty_distance
from forams_lightning.metrics.reranking import Reranking, hubness


def _rows(n, d=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _from_scratch(database, depth, metric):
    distances, ids = knn_search(database, database, depth + 1, metric)
    return distances[:, 1:], ids[:, 1:]


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_table_matches_a_search_from_scratch_after_additions_and_removals(metric):
    rows = _rows(60)
    table = NeighbourTable.build(rows[:40], 5, metric).added(rows[40:45]).added(rows[45:])
    d, i = _from_scratch(rows, 5, metric)
    np.testing.assert_allclose(table.distances, d, atol=1e-5)
    assert (table.ids == i).all()
    keep = np.ones(60, bool)
    keep[[3, 17, 50]] = False
    smaller = table.removed(keep)
    d, i = _from_scratch(rows[keep], 5, metric)
    np.testing.assert_allclose(smaller.distances, d, atol=1e-5)
    assert (smaller.ids == i).all()


def test_a_table_deeper_than_the_database_is_padded_and_an_exact_duplicate_is_another_row():
    table = NeighbourTable.build(np.array([[1.0, 0], [1.0, 0], [0, 1.0]], np.float32), 4, "cosine")
    assert table.ids[0].tolist() == [1, 2, -1, -1] and table.distances[0, 0] == 0
    assert np.isinf(table.distances[:, 2:]).all()
    assert nearest_of(np.array([[3.0, 1.0, 2.0]]), 2)[1].tolist() == [[1, 2]]


def test_a_tracked_library_derives_what_an_untracked_one_computes():
    rows, labels = _rows(80, seed=1), np.repeat(np.arange(4), 20)
    plain = ReferenceLibrary(None, {}, rows, labels, [f"{i}.jpg" for i in range(80)], list("abcd"),
                             novelty=NoveltyScore(neighbours=2, scale_k=3))
    tracked = ReferenceLibrary(None, {}, rows, labels, list(plain.files), list("abcd"), novelty=plain.novelty)
    tracked.track_neighbours(20)
    grown_plain = plain.with_references(_rows(3, seed=2), ["a", "e", "e"], ["x", "y", "z"], ["", "", ""])
    grown = tracked.with_references(_rows(3, seed=2), ["a", "e", "e"], ["x", "y", "z"], ["", "", ""])
    queries = _rows(30, seed=3)
    for one, other in ((plain, tracked), (grown_plain, grown)):
        a, sa = one.identify(queries, reranking=Reranking(csls_k=20))
        b, sb = other.identify(queries, reranking=Reranking(csls_k=20))
        assert (a.prediction == b.prediction).all() and (a.ids == b.ids).all()
        np.testing.assert_allclose(sa, sb, rtol=1e-5)
        np.testing.assert_allclose(one.sparsity(), other.sparsity(), rtol=1e-5)
    np.testing.assert_allclose(grown._hubness(grown.embeddings, 20), hubness(grown.embeddings, 20), atol=1e-5)
    assert grown.subset(np.arange(83) != 5).neighbours.distances.shape == (82, 20)


def test_the_scaled_novelty_score_selects_without_sorting_every_reference():
    gallery, queries = _rows(50, seed=4), _rows(7, seed=5)
    spread = local_spread(gallery, 3)
    distances, ids = knn_search(gallery, queries, 50, "cosine")
    expected = np.sort(distances / spread[ids], axis=1)[:, :2].mean(1)
    np.testing.assert_allclose(novelty_distance(gallery, queries, "cosine", 2, scale_k=3), expected, rtol=1e-5)
    assert novelty_distance(gallery[:1], queries, "cosine", 2, scale_k=3, spread=np.ones(1)).shape == (7,)

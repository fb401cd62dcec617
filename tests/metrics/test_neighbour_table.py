"""The neighbour table against a search from scratch; the scaled novelty score's selection."""

import numpy as np
import pytest
from helpers import random_rows

from forams_lightning.metrics.knn import knn_search
from forams_lightning.metrics.neighbour_table import NeighbourTable, nearest_of
from forams_lightning.metrics.novelty import local_spread, novelty_distance


def _from_scratch(database, depth, metric):
    distances, ids = knn_search(database, database, depth + 1, metric)
    return distances[:, 1:], ids[:, 1:]


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_table_matches_a_search_from_scratch_after_additions_and_removals(metric):
    rows = random_rows(60)
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


def test_the_scaled_novelty_score_selects_without_sorting_every_reference():
    gallery, queries = random_rows(50, seed=4), random_rows(7, seed=5)
    spread = local_spread(gallery, 3)
    distances, ids = knn_search(gallery, queries, 50, "cosine")
    expected = np.sort(distances / spread[ids], axis=1)[:, :2].mean(1)
    np.testing.assert_allclose(novelty_distance(gallery, queries, "cosine", 2, scale_k=3), expected, rtol=1e-5)
    assert novelty_distance(gallery[:1], queries, "cosine", 2, scale_k=3, spread=np.ones(1)).shape == (7,)

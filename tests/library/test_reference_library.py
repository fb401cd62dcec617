"""A library that tracks its neighbours derives what an untracked one computes."""

import numpy as np
from helpers import random_rows

from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.metrics.novelty import NoveltyScore
from forams_lightning.metrics.reranking import Reranking, hubness


def test_a_tracked_library_derives_what_an_untracked_one_computes():
    rows, labels = random_rows(80, seed=1), np.repeat(np.arange(4), 20)
    plain = ReferenceLibrary(None, {}, rows, labels, [f"{i}.jpg" for i in range(80)], list("abcd"),
                             novelty=NoveltyScore(neighbours=2, scale_k=3))
    tracked = ReferenceLibrary(None, {}, rows, labels, list(plain.files), list("abcd"), novelty=plain.novelty)
    tracked.track_neighbours(20)
    grown_plain = plain.with_references(random_rows(3, seed=2), ["a", "e", "e"], ["x", "y", "z"], ["", "", ""])
    grown = tracked.with_references(random_rows(3, seed=2), ["a", "e", "e"], ["x", "y", "z"], ["", "", ""])
    queries = random_rows(30, seed=3)
    for one, other in ((plain, tracked), (grown_plain, grown)):
        a, sa = one.identify(queries, reranking=Reranking(csls_k=20))
        b, sb = other.identify(queries, reranking=Reranking(csls_k=20))
        assert (a.prediction == b.prediction).all() and (a.ids == b.ids).all()
        np.testing.assert_allclose(sa, sb, rtol=1e-5)
        np.testing.assert_allclose(one.sparsity(), other.sparsity(), rtol=1e-5)
    np.testing.assert_allclose(grown._hubness(grown.embeddings, 20), hubness(grown.embeddings, 20), atol=1e-5)
    assert grown.subset(np.arange(83) != 5).neighbours.distances.shape == (82, 20)

"""Morphospace subsampling keeps every species; UMAP separates clusters."""

import numpy as np
import pytest


def test_morphospace_subsample_keeps_every_species_and_the_share():
    from forams_lightning.viz.morphospace import subsample

    labels = np.repeat([0, 1, 2], [100, 10, 1])
    keep = subsample(labels, 56, seed=0)
    assert sorted(np.bincount(labels[keep]).tolist()) == [1, 5, 50]
    assert (subsample(labels, None) == np.arange(111)).all()


@pytest.mark.slow  # umap-learn JIT-compiles for ~20 s on first use
def test_umap_projection_separates_clusters():
    from forams_lightning.viz.morphospace import project_2d

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 60)
    x = rng.normal(size=(120, 16)) + labels[:, None] * 6.0
    xy = project_2d(x, "umap", metric="euclidean")
    centres = np.stack([xy[labels == c].mean(0) for c in (0, 1)])
    spread = max(xy[labels == c].std(0).max() for c in (0, 1))
    assert np.linalg.norm(centres[0] - centres[1]) > 3 * spread

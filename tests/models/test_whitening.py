"""The learned whitening against scikit-learn; cross-fitted species."""

import numpy as np
import pytest

from forams_lightning.models.whitening import cross_fitted_embeddings, fit_whitening


def test_pca_whitening_matches_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 3.0
    mean, projection = fit_whitening(x, dim=4, shrinkage=0.0)
    ours = (x - mean) @ projection
    ref = PCA(n_components=4, whiten=True).fit_transform(x) * np.sqrt(300 / 299)  # sklearn: n-1 normalisation
    signs = np.sign((ours * ref).sum(0))
    np.testing.assert_allclose(ours * signs, ref, atol=1e-4)


def test_learned_whitening_whitens_within_species_and_orders_by_separation():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(8), 40)
    centres = np.zeros((8, 5))
    centres[:, 0] = np.arange(8) * 4.0  # species differ along axis 0 only
    x = centres[labels] + rng.normal(size=(320, 5)) * [0.5, 3.0, 1.0, 1.0, 1.0]  # axis 1: large within-species noise
    mean, projection = fit_whitening(x, labels, shrinkage=0.0)
    z = (x - mean) @ projection
    within = sum(np.cov((z[labels == c] - z[labels == c].mean(0)).T, bias=True) * 40 for c in range(8)) / 320
    np.testing.assert_allclose(within, np.eye(5), atol=1e-6)
    assert abs(projection[0, 0]) > 10 * np.abs(projection[1:, 0]).max()  # first output axis = the separating one


def test_shrinkage_keeps_singular_data_finite():
    x = np.random.default_rng(2).normal(size=(10, 50))  # fewer samples than dimensions
    mean, projection = fit_whitening(x, np.repeat([0, 1], 5), dim=8, shrinkage=0.5)
    assert projection.shape == (50, 8) and np.isfinite(projection).all()


def test_cross_fitted_species_are_embedded_by_a_whitening_that_never_saw_them():
    # many dimensions and few images a species: the whitening overfits the species it is fitted on, so they look
    # tighter than species it never saw; cross-fitted species must look as unseen ones do
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(12), 6)
    views = (rng.normal(size=(12, 1, 40)) * 2.0)[labels] + rng.normal(size=(72, 2, 40))  # 2 views an image
    groups = cross_fitted_embeddings(views, labels, folds=3, dim=8, seed=0)
    assert sorted(np.concatenate([y for _, y in groups])) == sorted(labels)  # every species in one group
    assert all(len(np.unique(y)) == 4 and e.shape == (len(y), 8) for e, y in groups)
    held = np.unique(groups[0][1])
    rest = ~np.isin(labels, held)
    mean, projection = fit_whitening(views[rest].reshape(-1, 40), np.repeat(labels[rest], 2), 8, 0.5)
    by_hand = (views[~rest] - mean) @ projection
    by_hand = (by_hand / np.linalg.norm(by_hand, axis=-1, keepdims=True)).mean(1)
    np.testing.assert_allclose(groups[0][0], by_hand, rtol=1e-4, atol=1e-5)

    def spread(emb, y):  # mean distance of an image to its species' mean embedding
        return np.mean([np.linalg.norm(emb[y == c] - emb[y == c].mean(0), axis=1).mean() for c in np.unique(y)])
    mean, projection = fit_whitening(views.reshape(-1, 40), np.repeat(labels, 2), 8, 0.5)
    fitted = (views - mean) @ projection
    fitted = (fitted / np.linalg.norm(fitted, axis=-1, keepdims=True)).mean(1)
    assert spread(*groups[0]) > 1.5 * spread(fitted[~rest], labels[~rest])
    with pytest.raises(ValueError, match="at least 2 species a fold"):
        cross_fitted_embeddings(views[:18], labels[:18], folds=2)

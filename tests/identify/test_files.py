"""Identification in the re-ranked space, with the stored novelty score."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace

import numpy as np
from helpers import compose_app, run_test_images

from forams_lightning.export import export
from forams_lightning.identify.command import identify_command
from forams_lightning.library.storage import load_library, save_library


def test_identify_with_re_ranking_votes_in_the_re_ranked_space(library, trained_run, tmp_path, caplog):
    from forams_lightning.metrics.knn import knn_identify
    from forams_lightning.metrics.reranking import Reranking, neighbour_expansion

    lib = load_library(library)
    queries = lib.embeddings[:7] + 0.01 * np.random.default_rng(0).normal(size=(7, lib.embeddings.shape[1]))
    plain, score = lib.identify(queries)
    found, score_expanded = lib.identify(queries, reranking=Reranking(expansion_k=2, expansion_alpha=3.0))
    references = neighbour_expansion(lib.embeddings, 2, 3.0)
    expected = knn_identify(references, lib.labels, neighbour_expansion(references, 2, 3.0, queries=queries), lib.k,
                            metric="cosine")
    np.testing.assert_array_equal(found.ids, expected.ids)
    np.testing.assert_array_equal(score, score_expanded)  # the novelty score keeps the plain embeddings
    assert not np.array_equal(found.distances, plain.distances)
    # CSLS re-ranking on top: the hubness of the expanded references, computed once and kept
    both, _ = lib.identify(queries, reranking=Reranking(expansion_k=2, expansion_alpha=3.0, csls_k=3))
    expected = knn_identify(references, lib.labels, neighbour_expansion(references, 2, 3.0, queries=queries), lib.k,
                            metric="cosine", csls_k=3)
    np.testing.assert_array_equal(both.ids, expected.ids)
    csls = lib.identify(queries, reranking=Reranking(csls_k=3))[0]
    np.testing.assert_array_equal(csls.ids, knn_identify(lib.embeddings, lib.labels, queries, lib.k, metric="cosine",
                                                         csls_k=3).ids)
    assert not np.array_equal(csls.ids, plain.ids)  # it re-ranked
    specimens = tmp_path / "specimens"
    specimens.mkdir()
    for path, _ in run_test_images(trained_run[0])[:3]:
        shutil.copy(path, specimens)
    predictions = identify_command(compose_app("identify", [f"library={library}", f"images={specimens}",
                                                            "num_workers=0", "reranking.expansion_k=2",
                                                            "reranking.csls_k=3"], tmp_path / "out"))
    assert len(predictions.read_text().splitlines()) == 4
    # identify's default CSLS ranks plainly where the library measures l2 distances (it needs cosine), and says so
    l2 = save_library(replace(lib, metric="l2", _cache={}), tmp_path / "l2_library")
    with caplog.at_level(logging.INFO, logger="forams_lightning.identify.settings"):
        predictions = identify_command(compose_app("identify", [f"library={l2}", f"images={specimens}",
                                                                "num_workers=0"], tmp_path / "out_l2"))
    assert len(predictions.read_text().splitlines()) == 4 and "plain ranking" in caplog.text


def test_novelty_score_is_stored_calibrated_and_used_by_identify(trained_run, tmp_path):
    """export takes the density-normalised novelty score (`metrics.novelty.novelty_distance`) into the manifest;
    its threshold keeps 95% of the validation images; identify flags by it; a library without the field (written
    before it existed) keeps the plain nearest-reference distance."""
    from forams_lightning.metrics.novelty import novelty_distance

    run, metrics = trained_run
    cfg = compose_app("export", [f"ckpt={run / metrics['best_checkpoint']}", "num_workers=0", "novelty_neighbours=2",
                                 "novelty_scale_k=3", f"out={tmp_path / 'lib'}"], tmp_path)
    manifest = json.loads((export(cfg) / "manifest.json").read_text())
    assert manifest["novelty_score"] == {"neighbours": 2, "scale_k": 3}
    lib = load_library(tmp_path / "lib")
    queries = lib.embeddings[:20] + 0.05 * np.random.default_rng(0).normal(size=(20, lib.embeddings.shape[1]))
    scores = novelty_distance(lib.embeddings, queries, "cosine", neighbours=2, scale_k=3)
    np.testing.assert_allclose(lib.novelty_scores(queries), scores, rtol=1e-5)
    np.testing.assert_allclose(lib.identify(queries)[1], scores, rtol=1e-5)
    assert 0 < lib.threshold < np.inf

    del manifest["novelty_score"]
    (tmp_path / "lib" / "manifest.json").write_text(json.dumps(manifest))
    old = load_library(tmp_path / "lib")
    found, score = old.identify(queries)
    np.testing.assert_allclose(score, found.distances[:, 0], rtol=1e-5)

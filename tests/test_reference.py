"""Train -> export -> identify on the tiny synthetic library, bad files included; review.html in a real browser."""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import compose_app, rendered_page
from PIL import Image

from forams_lightning.export import export
from forams_lightning.identify.command import identify_command
from forams_lightning.library.storage import load_library, save_library
from forams_lightning.metrics.review_order import uncertainty_order
from forams_lightning.train import train


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, cache_dir):
    from conftest import compose_train

    run = tmp_path_factory.mktemp("run")
    cfg = compose_train(["trainer.max_epochs=2", "callbacks.morphospace=null"], run, cache_dir)
    train(cfg)
    return run, json.loads((run / "metrics.json").read_text())


@pytest.fixture(scope="module")
def library(trained_run, tmp_path_factory):
    run, metrics = trained_run
    out = tmp_path_factory.mktemp("export")
    cfg = compose_app("export", [f"ckpt={run}", "num_workers=0"], out)  # a run folder: its best checkpoint
    return export(cfg)


def _test_split(run: Path) -> list[tuple[str, str]]:
    """(absolute path, species) of the run's test images, from its saved config and split."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    dm = instantiate(OmegaConf.load(run / "config.yaml").data, split_file=str(run / "split.csv"), output_dir=None)
    dm.setup("test")
    return [(p, dm.species[lab]) for p, lab in zip(dm.paths("test"), dm.part_labels("test"))]


def test_library_is_self_describing_and_reloads(library, trained_run):
    run, metrics = trained_run
    assert library == run / "library"
    manifest = json.loads((library / "manifest.json").read_text())
    assert manifest["version"] == 3 and manifest["n_references"] > 0 and 0 < manifest["novelty_threshold"] < 2
    assert manifest["embedder"]["backbone"]["name"] == "efficientnet_lite0"  # plain arguments, no class names
    assert manifest["checkpoint"] == str((run / metrics["best_checkpoint"]).resolve())  # the run folder's best
    lib = load_library(library)
    assert lib.embeddings.shape == (manifest["n_references"], manifest["embedding_dim"])
    # no temporary folder left behind (the lock file of library changes stays, as flock files do)
    assert [p.name for p in library.parent.glob(".library.*")] == [".library.lock"]


def test_identify_reproduces_test_metrics_and_survives_bad_files(library, trained_run, tmp_path):
    run, metrics = trained_run
    specimens = tmp_path / "specimens"
    truth = {}
    for src, species in _test_split(run):
        dst = specimens / "good" / f"{len(truth):04d}.jpg"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
        truth[str(dst)] = species
    bad = specimens / "bad"
    bad.mkdir()
    good_jpeg = Path(_test_split(run)[0][0]).read_bytes()
    (bad / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 3])
    (bad / "empty.png").write_bytes(b"")
    (bad / "notes.jpg").write_text("not an image")
    Image.fromarray(np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)).save(bad / "deep.tif")
    Image.new("RGBA", (40, 30), (200, 120, 40, 128)).save(bad / "alpha.png")
    (specimens / "empty_folder").mkdir()

    out = tmp_path / "identified"
    predictions = identify_command(compose_app("identify", [f"library={library}", f"images={specimens}",
                                                            "num_workers=0", "vote=majority", "reranking.csls_k=0",
                                                            "precision=32"], out))
    with open(predictions, newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    assert len(rows) == len(truth) + 5
    for name in ("truncated.jpg", "empty.png", "notes.jpg"):
        assert rows[str(bad / name)]["error"] and not rows[str(bad / name)]["species"], name
    for name in ("deep.tif", "alpha.png"):
        assert rows[str(bad / name)]["species"] and not rows[str(bad / name)]["error"], name
    accuracy = np.mean([rows[f]["species"] == s for f, s in truth.items()])
    # same checkpoint, references, k, metric, ranking, vote and precision as the training run's test: same answers
    # (one tie flip allowed)
    assert abs(accuracy - metrics["test/knn_acc"]) <= 1 / len(truth) + 1e-9
    assert {"neighbour_5_species", "neighbour_5_distance", "novel", "vote_share"} <= set(next(iter(rows.values())))
    # the flag is the novelty score beyond the threshold of the species the specimen is identified as
    lib = load_library(library)
    threshold = dict(zip(lib.species, lib.threshold_table()))
    assert all(int(r["novel"]) == (float(r["novelty_score"]) > threshold[r["species"]])
               for r in rows.values() if not r["error"])
    assert min(threshold.values()) >= lib.threshold  # never below the pooled threshold
    page = (out / "review.html").read_text()
    assert page.count('<tr class="specimen') == len(truth) + 2 and "notes.jpg" in page
    # each row shows the novelty score its flag thresholds
    assert all(f"novelty {float(r['novelty_score']):.3f}" in page for r in rows.values() if not r["error"])


def test_run_folder_library_and_identify_output_are_readable_by_colleagues(library, trained_run, tmp_path):
    """Every file gets the mode a plain open() gives under the umask (022 in the suite, see conftest), atomic writes
    included: a colleague on the same server can read the metrics, the predictions and load the library."""
    import os

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    expected = plain.stat().st_mode & 0o777
    assert expected == 0o644
    out = tmp_path / "identified"
    identify_command(compose_app("identify", [f"library={library}",
                                              f"images={Path(_test_split(trained_run[0])[0][0]).parent}",
                                              "num_workers=0", "review.rows_per_page=5"], out))
    files = [p for folder in (trained_run[0], library, out) for p in folder.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"metrics.json", "run.json", "config.yaml", "split.csv", "predictions.csv", "review.html",
            "references.csv", "manifest.json", "index.faiss"} <= names
    modes = {str(p): oct(p.stat().st_mode & 0o777) for p in files if p.stat().st_mode & 0o777 != expected}
    assert not modes
    folders = [library, out, *(p for folder in (trained_run[0], library, out) for p in folder.rglob("*") if p.is_dir())]
    assert all(p.stat().st_mode & 0o755 == 0o755 for p in folders), [str(p) for p in folders]
    assert os.access(library / "references.csv", os.R_OK)


def test_review_sorts_least_certain_first():
    # a: certain; b, c: split votes, c farther; d: novel
    novel, share, distance = [False, False, False, True], [1.0, 0.6, 0.6, 1.0], [0.1, 0.1, 0.3, 0.9]
    assert uncertainty_order(novel, share, distance).tolist() == [3, 2, 1, 0]


def test_identify_names_missing_inputs(library, tmp_path):
    with pytest.raises(FileNotFoundError, match="no image files"):
        (tmp_path / "empty").mkdir()
        identify_command(compose_app("identify", [f"library={library}", f"images={tmp_path / 'empty'}"], tmp_path))
    with pytest.raises(FileNotFoundError, match="not a reference library"):
        identify_command(compose_app("identify", [f"library={tmp_path}", f"images={tmp_path}"], tmp_path))


def test_export_names_a_bad_neighbour_count_before_reading_the_run():
    from forams_lightning.library.build import build_library

    with pytest.raises(ValueError, match=r"^k must be a whole number >= 1 \(got 0\)$"):
        build_library("no/such/run/model.ckpt", k=0)
    with pytest.raises(ValueError, match=r"^novelty.neighbours must be a whole number >= 1 \(got 0\)$"):
        build_library("no/such/run/model.ckpt", novelty={"neighbours": 0})


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_review_html_renders_in_headless_chromium(library, trained_run, tmp_path):
    run, _ = trained_run
    images = [src for src, _ in _test_split(run)[:6]]
    specimens = tmp_path / "specimens"
    specimens.mkdir()
    for i, src in enumerate(images):
        shutil.copy(src, specimens / f"{i}.jpg")
    out = tmp_path / "identified"
    identify_command(compose_app("identify", [f"library={library}", f"images={specimens}", "num_workers=0"], out))
    shot = tmp_path / "shot.png"
    dom = rendered_page((out / "review.html").as_uri(), screenshot=shot)
    assert dom.count('class="specimen') == 6
    # the page's script builds each row's verdict controls and path line (not stored in the file: size)
    table = dom.split("<tbody>")[1].split("</tbody>")[0]
    assert table.count('type="radio"') == 18 and table.count('class="correction"') == 6
    assert f"<small>{specimens / '0.jpg'}</small>" in table
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 20  # images and text, not a blank page
    assert (pixels < 128).mean() > 0.02


@pytest.mark.parametrize("source", ["library", "ckpt"])
def test_morphospace_command_maps_a_library_or_a_checkpoint(library, trained_run, tmp_path, source):
    from forams_lightning.morphospace import morphospace

    run, metrics = trained_run
    given = f"library={library}" if source == "library" else f"ckpt={run / metrics['best_checkpoint']}"
    written = morphospace(compose_app("morphospace", [given, "methods=[tsne]", "num_workers=0"], tmp_path))
    assert [p.name for p in written] == ["morphospace_tsne.png", "morphospace_tsne.html"]
    assert written[0].read_bytes()[:4] == b"\x89PNG" and "plotly" in written[1].read_text()
    n_references = json.loads((library / "manifest.json").read_text())["n_references"]
    assert f"of {n_references} references" in written[1].read_text()


def test_eval_reproduces_the_test_metrics_of_the_run_exactly(trained_run, tmp_path):
    from forams_lightning.eval import evaluate

    run, metrics = trained_run
    again = evaluate(compose_app("eval", [f"ckpt={run / metrics['best_checkpoint']}", "num_workers=0",
                                          "trainer.accelerator=cpu"], tmp_path))
    assert again and {k: metrics[k] for k in again} == again
    assert json.loads((tmp_path / "eval_metrics.json").read_text())["test/knn_acc"] == metrics["test/knn_acc"]
    assert (tmp_path / "test_per_species.csv").is_file()


def test_library_round_trip_keeps_provenance_apart_from_its_fields(library):
    lib = load_library(library)
    assert {"checkpoint", "created", "calibration", "git_commit"} <= set(lib.info)
    assert not {"species", "k", "novelty_threshold", "embedder"} & set(lib.info)


def test_eval_of_an_ensemble_of_one_model_twice_reproduces_that_model(trained_run, tmp_path):
    from forams_lightning.eval import evaluate

    run, metrics = trained_run
    best = run / metrics["best_checkpoint"]
    again = evaluate(compose_app("eval", [f"ckpt=[{best},{best}]", "num_workers=0", "trainer.accelerator=cpu"],
                                 tmp_path))
    assert again and again == pytest.approx({k: metrics[k] for k in again}, abs=1e-6)
    assert json.loads((tmp_path / "eval_metrics.json").read_text())["checkpoint"] == [str(best)] * 2


@pytest.mark.parametrize("change", ["split", "image_size", "run_dir"])
def test_eval_refuses_an_ensemble_of_runs_on_different_images(trained_run, tmp_path, change):
    from omegaconf import OmegaConf

    from forams_lightning.eval import evaluate

    run, metrics = trained_run
    other = tmp_path / "other"
    shutil.copytree(run, other)
    if change == "split":
        lines = (other / "split.csv").read_text().splitlines()
        (other / "split.csv").write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    elif change == "image_size":
        config = OmegaConf.load(other / "config.yaml")
        config.data.image_size += 8
        OmegaConf.save(config, other / "config.yaml")
    expected = {"split": "different splits.*other/split.csv", "image_size": "differ in data.image_size",
                "run_dir": "run_dir= names one training run"}[change]
    extra = [f"run_dir={run}"] if change == "run_dir" else []
    with pytest.raises(ValueError, match=expected):
        evaluate(compose_app("eval", [f"ckpt=[{run / metrics['best_checkpoint']},{other / metrics['best_checkpoint']}]",
                                      "num_workers=0", *extra], tmp_path))


def test_ensemble_library_of_one_model_twice_matches_that_models_library(trained_run, library, tmp_path):
    run, metrics = trained_run
    best = run / metrics["best_checkpoint"]
    with pytest.raises(ValueError, match="needs out=DIR"):
        export(compose_app("export", [f"ckpt=[{best},{best}]", "num_workers=0"], tmp_path))
    folder = export(compose_app("export", [f"ckpt=[{best},{best}]", f"out={tmp_path / 'ensemble'}", "num_workers=0"],
                                tmp_path))
    single, ensemble = load_library(library), load_library(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["version"] == 3 and len(manifest["embedder"]["members"]) == 2
    assert manifest["checkpoint"] == [str(best.resolve())] * 2
    dim = single.embeddings.shape[1]
    assert ensemble.embeddings.shape == (len(single.embeddings), 2 * dim)
    unit = single.embeddings / np.linalg.norm(single.embeddings, axis=1, keepdims=True)
    np.testing.assert_allclose(ensemble.embeddings[:, :dim] * 2**0.5, unit, atol=1e-5)
    assert ensemble.threshold == pytest.approx(single.threshold, abs=1e-4)
    assert ensemble.files == single.files and ensemble.species == single.species


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
    for path, _ in _test_split(trained_run[0])[:3]:
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


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_review_of_a_whole_sample_is_paged_small_and_opens_fast(library, trained_run, tmp_path):
    """2,000 specimens: pages of 200 rows, thumbnails stored once beside them, every page reachable, the first page
    small and quick to open in headless Chromium; predictions.csv complete, written while identifying."""
    import time

    sources = [src for src, _ in _test_split(trained_run[0])]
    specimens = tmp_path / "sample"
    specimens.mkdir()
    for i in range(2000):
        shutil.copy(sources[i % len(sources)], specimens / f"{i:05d}.jpg")
    out = tmp_path / "identified"
    predictions = identify_command(compose_app("identify", [f"library={library}", f"images={specimens}",
                                                            "num_workers=0", "batch_size=128"], out))
    assert len(predictions.read_text().splitlines()) == 2001 and not list(out.glob(".predictions*"))
    pages = sorted(p for p in out.glob("review*.html") if p.name != "review-groups.html")
    assert len(pages) == 10 and all(p.read_text().count('<tr class="specimen') == 200 for p in pages)
    assert 'href="review-10.html"' in (out / "review.html").read_text()
    thumbs = list((out / "review_files").glob("*.jpg"))
    references = set().union(*(set(re.findall(r"review_files/[0-9a-f]+\.jpg", p.read_text())) for p in pages))
    assert len(thumbs) == len(references) <= 2000 + len(load_library(library).files)
    on_first = set(re.findall(r"review_files/[0-9a-f]+\.jpg", (out / "review.html").read_text()))
    first_page = (out / "review.html").stat().st_size + sum((out / t).stat().st_size for t in on_first)
    assert first_page < 3 * 2**20
    start = time.perf_counter()
    dom = rendered_page((out / "review.html").as_uri())
    assert time.perf_counter() - start < 10 and dom.count('class="specimen') == 200


@pytest.mark.slow
def test_identify_memory_stays_flat_however_large_the_sample(library, tmp_path):
    """20,000 small images take about the memory of 2,000: predictions stream to disk as they are computed, the
    review keeps a few numbers per specimen, the novel ones are grouped on a tree of at most
    `library.grouping.MAX_TREE` and the census counts 10 samples (a real sample is 10k-500k specimens)."""
    import subprocess
    import sys

    runner = ("import resource, runpy, sys\n"
              "sys.argv = sys.argv[1:]\n"
              "try:\n"
              "    runpy.run_module('forams_lightning.identify', run_name='__main__')\n"
              "finally:\n"
              "    print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    rng = np.random.default_rng(0)
    peaks = {}
    for n in (2_000, 20_000):
        sample = tmp_path / f"sample_{n}"
        sample.mkdir()
        for i in range(n):
            (sample / f"core_{i % 10}").mkdir(exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(
                sample / f"core_{i % 10}" / f"{i:06d}.png")
        out = tmp_path / f"out_{n}"
        done = subprocess.run([sys.executable, "-c", runner, "identify", f"library={library}", f"images={sample}",
                               "num_workers=0", "batch_size=256", "groups=all", f"hydra.run.dir={out}"],
                              capture_output=True, text=True, check=True)
        peaks[n] = int(re.search(r"peak_kib (\d+)", done.stderr).group(1)) / 1024
        assert len((out / "predictions.csv").read_text().splitlines()) == n + 1
        assert f"{n} identified" in (out / "identify.log").read_text()
        with open(out / "census.csv", newline="") as f:
            assert sum(int(row["count"]) for row in csv.DictReader(f) if row["kind"] in ("species", "unexplained")) == n
        assert (out / "groups.csv").is_file()
    assert peaks[20_000] - peaks[2_000] < 100, peaks


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


def test_export_calibrates_on_every_held_out_split_unless_told(trained_run, tmp_path):
    """By default the validation and the test images calibrate the thresholds and the census' confusion (the
    validation split chose the checkpoint); calibration_parts=[val] keeps the test split out; a split that is a
    reference is refused before anything is embedded."""
    run, metrics = trained_run
    ckpt = f"ckpt={run / metrics['best_checkpoint']}"
    parts = [line.rsplit(",", 1)[1] for line in (run / "split.csv").read_text().splitlines()[1:]]
    lib = load_library(export(compose_app("export", [ckpt, "num_workers=0", f"out={tmp_path / 'a'}"], tmp_path)))
    assert lib.info["calibration"]["part"] == "val+test"
    assert lib.info["calibration"]["n_queries"] == parts.count("val") + parts.count("test")
    assert int(lib.confusion.sum() + lib.confusion_flagged.sum()) == lib.info["calibration"]["n_queries"]
    assert lib.species_thresholds is not None and lib.threshold_model is not None
    only_val = load_library(export(compose_app("export", [ckpt, "num_workers=0", "calibration_parts=[val]",
                                                          f"out={tmp_path / 'b'}"], tmp_path)))
    assert only_val.info["calibration"]["n_queries"] == parts.count("val")
    with pytest.raises(ValueError, match=r"calibration_parts=\['train'\]: \['train'\] are references"):
        export(compose_app("export", [ckpt, "calibration_parts=train", f"out={tmp_path / 'c'}"], tmp_path))


def test_export_with_val_references_calibrates_on_the_test_images(trained_run, tmp_path):
    run, metrics = trained_run
    cfg = compose_app("export", [f"ckpt={run / metrics['best_checkpoint']}", "num_workers=0",
                                 "reference_parts=[train,val]", f"out={tmp_path / 'lib'}"], tmp_path)
    manifest = json.loads((export(cfg) / "manifest.json").read_text())
    lib = load_library(tmp_path / "lib")
    n_test = sum(1 for line in (run / "split.csv").read_text().splitlines() if line.endswith(",test"))
    assert lib.info["calibration"]["part"] == "test" and lib.info["calibration"]["n_queries"] == n_test
    assert 0 < manifest["novelty_threshold"] < np.inf  # validation images are references: their score would be 0


def test_export_again_after_library_add_keeps_every_added_reference(trained_run, tmp_path):
    """The README's flow: export, grow the library from verdicts, export again."""
    from forams_lightning.library.editing import add_references
    from forams_lightning.library.embedding import Inference

    run, _ = trained_run
    out = tmp_path / "library"
    export(compose_app("export", [f"ckpt={run}", "num_workers=0", f"out={out}"], tmp_path))
    added = tmp_path / "verdicts"
    for species, shade in (("G. nova", 17), ("G. altera", 240)):
        for i in range(2):
            (added / species).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((40, 40, 3), shade + i, np.uint8)).save(added / species / f"{i}.png")
    add_references(out, str(added), inference=Inference(num_workers=0))
    grown = load_library(out)
    with pytest.raises(ValueError, match="has changed since it was exported"):
        export(compose_app("export", [f"ckpt={run}", "num_workers=0", f"out={out}"], tmp_path))
    assert load_library(out).hashes == grown.hashes
    export(compose_app("export", [f"ckpt={run}", "num_workers=0", f"out={out}", "grown=merge"], tmp_path))
    merged = load_library(out)
    assert set(grown.hashes) == set(merged.hashes) and merged.counts()["G. nova"] == 2
    assert len(list(tmp_path.glob("library.before-export-*"))) == 1


@pytest.mark.parametrize("command", ["eval", "export", "morphospace"])
def test_a_tampered_run_folder_config_runs_nothing(trained_run, tmp_path, command):
    """A shared run folder whose config.yaml names code: refused in one line naming the key; the marker file that
    running it would create never appears."""
    from omegaconf import OmegaConf

    from forams_lightning.eval import evaluate
    from forams_lightning.morphospace import morphospace

    run, metrics = trained_run
    shared = tmp_path / "shared_run"
    shutil.copytree(run, shared, ignore=shutil.ignore_patterns("library", "wandb"))
    marker = tmp_path / "ran.txt"
    config = OmegaConf.load(shared / "config.yaml")
    attacks = {"eval": ("data", {"_target_": "logging.basicConfig", "filename": str(marker)}),
               "export": ("model.backbone", {"_target_": "forams_lightning.runs.subprocess.Popen",
                                             "args": ["touch", str(marker)]}),
               "morphospace": ("loss", {"_target_": "forams_lightning.atomic.atomic_write_text",
                                        "path": str(marker), "text": "ran"})}
    key, node = attacks[command]
    OmegaConf.update(config, key, node, merge=False)
    OmegaConf.save(config, shared / "config.yaml")
    ckpt = f"ckpt={shared / metrics['best_checkpoint']}"
    call = {"eval": lambda: evaluate(compose_app("eval", [ckpt, "num_workers=0"], tmp_path / "out")),
            "export": lambda: export(compose_app("export", [ckpt, "num_workers=0"], tmp_path / "out")),
            "morphospace": lambda: morphospace(compose_app("morphospace", [ckpt, "num_workers=0"], tmp_path / "out"))}
    with pytest.raises(ValueError, match=rf"config.yaml: {re.escape(key)}._target_=.* is refused"):
        call[command]()
    assert not marker.exists()

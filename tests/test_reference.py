"""Train -> export -> identify on the tiny synthetic library, bad files included; review.html in a real browser."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import compose_app
from PIL import Image

from forams_lightning.export import export
from forams_lightning.identify import identify
from forams_lightning.reference.library import ReferenceLibrary
from forams_lightning.train import train
from forams_lightning.viz.review import uncertainty_order


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
    cfg = compose_app("export", [f"ckpt={run / metrics['best_checkpoint']}", "num_workers=0"], out)
    return export(cfg)


def _test_split(run: Path) -> list[tuple[str, str]]:
    """(absolute path, species) of the run's test images, from its saved config and split."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    dm = instantiate(OmegaConf.load(run / "config.yaml").data, split_file=str(run / "split.csv"), output_dir=None)
    dm.setup("test")
    return [(p, dm.species[lab]) for p, lab in zip(dm.paths("test"), dm.part_labels("test"))]


def test_library_is_self_describing_and_reloads(library, trained_run):
    run, _ = trained_run
    assert library == run / "library"
    manifest = json.loads((library / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["n_references"] > 0 and 0 < manifest["novelty_threshold"] < 2
    assert manifest["embedder"]["backbone"]["_target_"].endswith("Backbone")
    lib = ReferenceLibrary.load(library)
    assert lib.embeddings.shape == (manifest["n_references"], manifest["embedding_dim"])
    assert not list(library.parent.glob(".library.*"))  # no temporary folder left behind


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
    predictions = identify(compose_app("identify", [f"library={library}", f"images={specimens}", "num_workers=0",
                                                    "vote=majority"], out))
    with open(predictions, newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    assert len(rows) == len(truth) + 5
    for name in ("truncated.jpg", "empty.png", "notes.jpg"):
        assert rows[str(bad / name)]["error"] and not rows[str(bad / name)]["species"], name
    for name in ("deep.tif", "alpha.png"):
        assert rows[str(bad / name)]["species"] and not rows[str(bad / name)]["error"], name
    accuracy = np.mean([rows[f]["species"] == s for f, s in truth.items()])
    # same checkpoint, references, k, metric and vote as the training run's test: same answers (one tie flip allowed)
    assert abs(accuracy - metrics["test/knn_acc"]) <= 1 / len(truth) + 1e-9
    assert {"neighbour_5_species", "neighbour_5_distance", "novel", "vote_share"} <= set(next(iter(rows.values())))
    page = (out / "review.html").read_text()
    assert page.count('<tr class="specimen') == len(truth) + 2 and "notes.jpg" in page


def test_review_sorts_least_certain_first():
    a = {"novel": False, "vote_share": 1.0, "distance": 0.1}
    b = {"novel": False, "vote_share": 0.6, "distance": 0.1}
    c = {"novel": False, "vote_share": 0.6, "distance": 0.3}
    d = {"novel": True, "vote_share": 1.0, "distance": 0.9}
    assert sorted([a, b, c, d], key=uncertainty_order) == [d, c, b, a]


def test_identify_names_missing_inputs(library, tmp_path):
    with pytest.raises(FileNotFoundError, match="no image files"):
        (tmp_path / "empty").mkdir()
        identify(compose_app("identify", [f"library={library}", f"images={tmp_path / 'empty'}"], tmp_path))
    with pytest.raises(FileNotFoundError, match="not a reference library"):
        identify(compose_app("identify", [f"library={tmp_path}", f"images={tmp_path}"], tmp_path))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_review_html_renders_in_headless_chromium(library, trained_run, tmp_path):
    run, _ = trained_run
    images = [src for src, _ in _test_split(run)[:6]]
    specimens = tmp_path / "specimens"
    specimens.mkdir()
    for i, src in enumerate(images):
        shutil.copy(src, specimens / f"{i}.jpg")
    out = tmp_path / "identified"
    identify(compose_app("identify", [f"library={library}", f"images={specimens}", "num_workers=0"], out))
    page = (out / "review.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120).stdout
    assert dom.count('class="specimen') == 6
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1200,900", page],
                   capture_output=True, timeout=120)
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
    lib = ReferenceLibrary.load(library)
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
    single, ensemble = ReferenceLibrary.load(library), ReferenceLibrary.load(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["version"] == 2 and len(manifest["embedder"]["members"]) == 2
    assert manifest["checkpoint"] == [str(best.resolve())] * 2
    dim = single.embeddings.shape[1]
    assert ensemble.embeddings.shape == (len(single.embeddings), 2 * dim)
    unit = single.embeddings / np.linalg.norm(single.embeddings, axis=1, keepdims=True)
    np.testing.assert_allclose(ensemble.embeddings[:, :dim] * 2**0.5, unit, atol=1e-5)
    assert ensemble.threshold == pytest.approx(single.threshold, abs=1e-4)
    assert ensemble.files == single.files and ensemble.species == single.species


def test_identify_with_query_expansion_votes_in_the_expanded_space(library, trained_run, tmp_path):
    from forams_lightning.metrics.knn import knn_identify
    from forams_lightning.metrics.reranking import neighbour_expansion

    lib = ReferenceLibrary.load(library)
    queries = lib.embeddings[:7] + 0.01 * np.random.default_rng(0).normal(size=(7, lib.embeddings.shape[1]))
    plain, novel = lib.identify(queries)
    found, novel_expanded = lib.identify(queries, expansion_k=2, expansion_alpha=3.0)
    references = neighbour_expansion(lib.embeddings, 2, 3.0)
    expected = knn_identify(references, lib.labels, neighbour_expansion(references, 2, 3.0, queries=queries), lib.k,
                            "cosine")
    np.testing.assert_array_equal(found.ids, expected.ids)
    np.testing.assert_array_equal(novel, novel_expanded)  # the flag keeps the plain distance
    assert not np.array_equal(found.distances, plain.distances)
    specimens = tmp_path / "specimens"
    specimens.mkdir()
    for path, _ in _test_split(trained_run[0])[:3]:
        shutil.copy(path, specimens)
    predictions = identify(compose_app("identify", [f"library={library}", f"images={specimens}", "num_workers=0",
                                                    "expansion.k=2"], tmp_path / "out"))
    assert len(predictions.read_text().splitlines()) == 4

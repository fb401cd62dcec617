"""export: a library from a run folder or an ensemble, calibrated on the held-out splits, grown libraries merged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import compose_app
from PIL import Image

from forams_lightning.export import export
from forams_lightning.library.storage import load_library


def test_export_names_a_bad_neighbour_count_before_reading_the_run():
    from forams_lightning.library.build import build_library

    with pytest.raises(ValueError, match=r"^k must be a whole number >= 1 \(got 0\)$"):
        build_library("no/such/run/model.ckpt", k=0)
    with pytest.raises(ValueError, match=r"^novelty.neighbours must be a whole number >= 1 \(got 0\)$"):
        build_library("no/such/run/model.ckpt", novelty={"neighbours": 0})


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

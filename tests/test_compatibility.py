"""Folders written by the previous version, 0.3.0 (`tests/fixtures/v0.3.0`, made by its `make.py`: a training run,
its library grown by a live review, a sample and its identify run folder with one verdict), are read by this one:
`library show`, `identify` against the library, `review` resuming the run folder, `eval` reproducing the run's test
metrics; the run's saved config passes the allow-list."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from helpers import REPO, compose_app

FIXTURE = REPO / "tests" / "fixtures" / "v0.3.0"
WRITTEN_AT = "/tmp/forams-v0.3.0"  # where 0.3.0 wrote the folders; the copy's paths replace it


@pytest.fixture
def old(tmp_path) -> Path:
    """A copy of the 0.3.0 folders with the paths inside them pointing at the copy (as if written there)."""
    root = tmp_path / "v0.3.0"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("make.py"))
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".csv", ".json", ".html"):
            text = path.read_text(encoding="utf-8")
            if WRITTEN_AT in text:
                path.write_text(text.replace(WRITTEN_AT, str(root)), encoding="utf-8")
    return root


def test_the_fixtures_were_written_by_0_3_0():
    manifest = json.loads((FIXTURE / "run" / "library" / "manifest.json").read_text())
    assert manifest["package_version"].startswith("0.3.0") and manifest["history"][-1]["command"] == "review"
    assert (FIXTURE / "identified" / "verdicts.csv").is_file() and (FIXTURE / "identified" / "embeddings.npy").is_file()


def test_library_show_reads_a_library_0_3_0_grew(old, tmp_path, capsys):
    from forams_lightning.library.command import library_command

    library = library_command(compose_app("library", [f"library={old / 'run' / 'library'}"], tmp_path / "show"))
    shown = capsys.readouterr().out
    assert "Globigerina expertii" in library.species and library.counts()["Globigerina expertii"] == 1
    assert "built by forams-lightning 0.3.0" in shown and "command review" in shown
    assert library.grouping is not None and library.confusion is not None


def test_identify_against_a_library_0_3_0_wrote(old, tmp_path):
    from forams_lightning.identify.command import identify_command

    out = tmp_path / "identified"
    predictions = identify_command(compose_app("identify", [f"library={old / 'run' / 'library'}",
                                                            f"images={old / 'sample'}", "num_workers=0"], out))
    rows = list(csv.DictReader(predictions.open()))
    species = json.loads((old / "run" / "library" / "manifest.json").read_text())["species"]
    assert len(rows) == 7 and all(r["species"] in species and not r["error"] for r in rows)
    assert (out / "census.csv").is_file() and (out / "review.html").is_file()


def test_the_review_of_a_run_folder_0_3_0_wrote_resumes_and_goes_on(old):
    from forams_lightning.library import load_library
    from forams_lightning.review import open_review

    run = old / "identified"
    with open_review(run) as review:
        assert review.progress()["done"] == 1 and review.verdicts()[0].species == "Globigerina expertii"
        review.decide(review.order()[0], "Globigerina expertii", "B. Expert")
    rows = list(csv.DictReader((run / "predictions.csv").open()))
    assert sorted(r["validated_by"] for r in rows if r["validated_by"]) == ["A. Expert", "B. Expert"]
    grown = load_library(old / "run" / "library")
    assert grown.counts()["Globigerina expertii"] == 2 and grown.info["history"][-1]["command"] == "review"


def test_eval_reproduces_the_test_metrics_of_a_run_0_3_0_trained(old, tmp_path):
    from forams_lightning.eval import evaluate

    metrics = evaluate(compose_app("eval", [f"ckpt={old / 'run'}", "num_workers=0"], tmp_path))
    saved = json.loads((old / "run" / "metrics.json").read_text())
    tested = {k: v for k, v in saved.items() if k.startswith("test/")}
    assert tested and {k: metrics[k] for k in tested} == tested


def test_the_saved_configs_of_0_3_0_pass_the_allow_list(old):
    from omegaconf import OmegaConf

    from forams_lightning.safe_targets import check_saved_targets

    for saved in (old / "run" / "config.yaml", old / "identified" / ".hydra" / "config.yaml"):
        check_saved_targets(OmegaConf.load(saved), saved)  # raises on a name it refuses

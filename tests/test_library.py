"""The library grows with the expert: add species from a few images, remove, relabel, recalibrate, without
retraining; every change recorded, written atomically, refused when it would corrupt the library."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import compose_app, rendered_page

from forams_lightning.export import export
from forams_lightning.identify.command import identify_command
from forams_lightning.library.command import library_command
from forams_lightning.library.storage import load_library

WITHHELD = ["data.synthetic.n_species=10", "data.synthetic.max_images=30", "data.synthetic.min_images=14",
            "data.synthetic.image_size=96", "data.image_size=96", "data.open_set.folds=4", "data.open_set.fold=0"]


@pytest.fixture(scope="module")
def withheld_run(tmp_path_factory, cache_dir):
    """A run trained with 3 of 10 species withheld, exported to a library of the 7 known species."""
    from conftest import compose_train

    from forams_lightning.train import train

    run_dir = tmp_path_factory.mktemp("withheld")
    train(compose_train(["+experiment=open_set", "callbacks.morphospace=null", *WITHHELD], run_dir, cache_dir))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    library = export(compose_app("export", [f"ckpt={run_dir / metrics['best_checkpoint']}", "num_workers=0"],
                                 run_dir))
    return run_dir, library


def _split(run_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """(path, species) of each part of the run's saved split."""
    parts: dict[str, list[tuple[str, str]]] = {}
    config = json.loads(json.dumps(__import__("omegaconf").OmegaConf.to_container(
        __import__("omegaconf").OmegaConf.load(run_dir / "config.yaml"))))
    root = Path(config["data"]["root"]) / next(p.name for p in Path(config["data"]["root"]).iterdir()
                                               if p.name.startswith("synthetic-"))
    with open(run_dir / "split.csv", newline="") as f:
        for row in csv.DictReader(f):
            parts.setdefault(row["split"], []).append((str(root / row["path"]), row["species"]))
    return parts


def _command(library: Path, *overrides: str, tmp_path: Path):
    return library_command(compose_app("library", [f"library={library}", "num_workers=0", *overrides], tmp_path))


def _identify_accuracy(library: Path, pairs: list[tuple[str, str]], tmp_path: Path) -> float:
    folder = tmp_path / "queries"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    truth = {}
    for i, (src, species) in enumerate(pairs):
        dst = folder / f"{i:04d}.jpg"
        shutil.copy(src, dst)
        truth[str(dst)] = species
    out = tmp_path / "identified"
    predictions = identify_command(compose_app("identify", [f"library={library}", f"images={folder}", "num_workers=0",
                                                    "review.enabled=false"], out))
    with open(predictions, newline="") as f:
        return float(np.mean([row["species"] == truth[row["file"]] for row in csv.DictReader(f)]))


@pytest.fixture
def library(withheld_run, tmp_path) -> Path:
    """A copy of the exported library for a test to change."""
    return Path(shutil.copytree(withheld_run[1], tmp_path / "library"))


def test_three_images_of_a_new_species_make_it_identifiable(withheld_run, library, tmp_path):
    run_dir = withheld_run[0]
    parts = _split(run_dir)
    unseen = parts["unknown_test"]
    species = sorted({s for _, s in unseen})
    assert len(species) >= 2
    shots, rest = [], []
    for name in species:
        images = [p for p in unseen if p[1] == name]
        shots += images[:3]
        rest += images[3:]
    before = _identify_accuracy(library, rest, tmp_path)
    assert before == 0.0  # the library has never seen them
    new = tmp_path / "new_species"
    for path, name in shots:
        (new / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, new / name)
    grown = _command(library, "command=add", f"images={new}", tmp_path=tmp_path)
    assert grown.counts()[species[0]] == 3 and len(grown.files) == len(load_library(library).files)
    after = _identify_accuracy(library, rest, tmp_path)
    known = _identify_accuracy(library, parts["test"], tmp_path)
    assert after >= known - 0.10, (after, known)
    entry = json.loads((library / "manifest.json").read_text())["history"][-1]
    assert entry["command"] == "add" and entry["added"] == 3 * len(species) and entry["new_species"] == species
    assert entry["threshold"].startswith("kept at")


def test_add_skips_duplicates_and_unreadable_files_and_refuses_a_second_spelling(withheld_run, library, tmp_path,
                                                                                caplog):
    parts = _split(withheld_run[0])
    name = parts["unknown_test"][0][1]
    folder = tmp_path / "new" / name
    folder.mkdir(parents=True)
    images = [p for p, s in parts["unknown_test"] if s == name][:2]
    for i, src in enumerate(images):
        shutil.copy(src, folder / f"{i}.jpg")
    shutil.copy(images[0], folder / "copy_of_0.jpg")  # the same bytes twice
    shutil.copy(parts["train"][0][0], folder / "already_a_reference.jpg")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    before = load_library(library)
    grown = _command(library, "command=add", f"images={tmp_path / 'new'}", tmp_path=tmp_path)
    assert len(grown.files) == len(before.files) + 2 and grown.counts()[name] == 2
    entry = grown.info["history"][-1]
    assert entry["duplicates_skipped"] == 2 and entry["unreadable_skipped"] == 1 and entry["added"] == 2
    assert "broken.jpg" in caplog.text and "already a reference" in caplog.text
    variant = name.upper().replace(" ", "_")
    with pytest.raises(ValueError, match=f"'{name}' vs '{variant}'|'{variant}' vs '{name}'"):
        _command(library, "command=add", f"images={folder}", f"species='{variant}'", tmp_path=tmp_path)
    assert len(load_library(library).files) == len(grown.files)  # nothing written


def test_remove_relabel_calibrate_and_show(withheld_run, library, tmp_path, capsys):
    before = load_library(library)
    first = before.species[before.labels[0]]
    gone = _command(library, "command=remove", f"species='{first}'", tmp_path=tmp_path)
    assert gone.counts()[first] == 0 and len(gone.files) == len(before.files) - before.counts()[first]
    target, other = gone.files[0], gone.species[gone.labels[-1]]
    moved = _command(library, "command=relabel", f"files=['{target}']", f"species='{other}'", tmp_path=tmp_path)
    assert moved.species[moved.labels[0]] == other and len(moved.files) == len(gone.files)
    dropped = _command(library, "command=remove", f"files=['{target}']", tmp_path=tmp_path)
    assert target not in dropped.files
    with pytest.raises(ValueError, match="not references of this library"):
        _command(library, "command=remove", "files=[/no/such.jpg]", tmp_path=tmp_path)
    calibration = tmp_path / "known"
    for path, name in _split(withheld_run[0])["val"]:
        if dropped.counts()[name]:
            (calibration / name).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, calibration / name)
    calibrated = _command(library, "command=calibrate", f"images={calibration}", "keep_known=0.9", tmp_path=tmp_path)
    assert calibrated.threshold != dropped.threshold and calibrated.info["calibration"]["keep_known"] == 0.9
    # the census's confusion is counted again on the calibration images, each in its species' row
    row = before.species.index(first)
    assert before.confusion[row].sum() > 0 and calibrated.confusion[row].sum() == 0
    assert 0 < calibrated.confusion.sum() <= sum(1 for _ in calibration.rglob("*.*"))
    capsys.readouterr()
    _command(library, "command=show", tmp_path=tmp_path)
    shown = capsys.readouterr().out
    assert f"{first}" in shown and "history:" in shown and shown.count("command ") == 4
    assert "recalibrated" in shown and str(calibration) in shown
    assert "novel specimens grouped at average linkage" in shown and "census adjusted for the confusion" in shown


def test_a_killed_add_leaves_the_library_as_it_was(withheld_run, library, tmp_path):
    many = tmp_path / "many" / "Novum genus"
    many.mkdir(parents=True)
    for i, (src, _) in enumerate(_split(withheld_run[0])["unknown_test"] * 20):
        shutil.copy(src, many / f"{i:05d}.jpg")
    before = {name: (library / name).read_bytes() for name in ("manifest.json", "index.faiss", "references.csv")}
    command = [sys.executable, "-m", "forams_lightning.library", "add", f"library={library}",
               f"images={many.parent}", "num_workers=0", "batch_size=8", f"hydra.run.dir={tmp_path / 'log'}"]
    process = subprocess.Popen(command, env={**os.environ, "FORAMS_OFFLINE": "1"}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (tmp_path / "log" / "library.log").is_file():
        time.sleep(0.2)
    time.sleep(5)  # well inside the embedding of ~1,000 images
    process.kill()
    process.wait()
    after = load_library(library)
    assert {name: (library / name).read_bytes() for name in before} == before
    assert "Novum genus" not in after.counts() or after.counts()["Novum genus"] == 0


def test_an_interrupted_swap_is_undone_on_load(library):
    """`save` renames the old library aside before renaming the new one in: a kill between leaves it aside."""
    before = (library / "references.csv").read_text()
    aside = library.with_name(f".{library.name}.old-12345")
    library.rename(aside)
    restored = load_library(library)
    assert library.is_dir() and not aside.exists() and (library / "references.csv").read_text() == before
    assert len(restored.files) == len(before.splitlines()) - 1


def _saved_verdicts(page: str, fill: str, out: Path) -> str:
    """The verdicts CSV that `page` shows after the `fill` script ran in real Chromium."""
    import html as html_lib
    import re

    (out / "filled.html").write_text(page)
    dom = rendered_page((out / "filled.html").as_uri(), fill)
    return html_lib.unescape(re.search(r'<div id="verdicts-csv">(.*?)</div>', dom, re.S).group(1))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_review_verdicts_from_the_browser_form_grow_the_library(withheld_run, library, tmp_path):
    """identify -> review.html in headless Chromium: confirm one row, correct another to a new species, save ->
    verdicts.csv -> library add."""
    import html as html_lib
    import re

    parts = _split(withheld_run[0])
    specimens = tmp_path / "specimens"
    specimens.mkdir()
    for i, (src, _) in enumerate(parts["test"][:3] + parts["unknown_test"][:3]):
        shutil.copy(src, specimens / f"{i}.jpg")
    out = tmp_path / "identified"
    identify_command(compose_app("identify", [f"library={library}", f"images={specimens}", "num_workers=0"], out))
    page = (out / "review.html").read_text()
    fill = ("() => { const rows = document.querySelectorAll('tr.specimen');"
            "rows[0].querySelector('input[value=confirm]').click();"
            "const box = rows[1].querySelector('input.correction'); box.value = 'Novum genus';"
            "box.dispatchEvent(new Event('input'));"
            "document.getElementById('save').click(); }")
    saved = _saved_verdicts(page, fill, out)
    rows = list(csv.DictReader(saved.splitlines()))
    shown = re.findall(r'<tr class="specimen[^"]*" data-file="([^"]+)" data-species="([^"]+)"', page)
    first, second = [(html_lib.unescape(f), html_lib.unescape(s)) for f, s in shown[:2]]
    assert rows == [{"file": first[0], "species": first[1]}, {"file": second[0], "species": "Novum genus"}]
    verdicts = tmp_path / "verdicts.csv"
    verdicts.write_text(saved)
    before = load_library(library)
    grown = _command(library, "command=add", f"images={verdicts}", tmp_path=tmp_path)
    assert len(grown.files) == len(before.files) + 2 and grown.counts()["Novum genus"] == 1
    assert grown.files[-2:] == [first[0], second[0]]


def _samples(withheld_run, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Two samples (sub-folders) of held-out known and withheld species' images; the true species of each file."""
    parts = _split(withheld_run[0])
    root, truth = tmp_path / "cores", {}
    for sample, pairs in (("core_A", parts["test"][:6] + parts["unknown_test"][::2]),
                          ("core_B", parts["test"][6:12] + parts["unknown_test"][1::2])):
        (root / sample).mkdir(parents=True)
        for i, (src, species) in enumerate(pairs):
            truth[str(root / sample / f"{i:03d}.jpg")] = species
            shutil.copy(src, root / sample / f"{i:03d}.jpg")
    return root, truth


def test_identify_groups_novel_specimens_and_counts_each_sample(withheld_run, library, tmp_path):
    """A library exported from an open-set run groups the specimens it flags novel (cut calibrated on the run's
    cross-fitted species) and writes groups.csv, the predictions' group column, census.csv/.png and the group page."""
    manifest = json.loads((library / "manifest.json").read_text())
    assert manifest["grouping"]["source"] == "the whitening's cross-fitted training species"
    assert manifest["confusion"] and sum(c for _, _, c in manifest["confusion"]) > 0
    root, truth = _samples(withheld_run, tmp_path)
    out = tmp_path / "identified"
    identify_command(compose_app("identify", [f"library={library}", f"images={root}", "num_workers=0"], out))
    with open(out / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    novel = [r for r in rows if r["novel"] == "1"]
    assert novel and all(r["group"] for r in novel) and not any(r["group"] for r in rows if r["novel"] == "0")
    with open(out / "groups.csv", newline="") as f:
        groups = list(csv.DictReader(f))
    assert sum(int(g["size"]) for g in groups) == len(novel)
    assert [int(g["size"]) for g in groups] == sorted((int(g["size"]) for g in groups), reverse=True)
    assert {g["medoid"] for g in groups} <= {r["file"] for r in novel}
    with open(out / "census.csv", newline="") as f:
        census = list(csv.DictReader(f))
    for sample in ("core_A", "core_B"):
        mine = [r for r in census if r["sample"] == sample and r["kind"] in ("species", "unexplained")]
        assert sum(int(r["count"]) for r in mine) == sum(f"/{sample}/" in file for file in truth)
        # adjusted shares of the whole sample (posterior medians: they sum to about 1)
        assert sum(float(r["adjusted_proportion"]) for r in mine) == pytest.approx(1, abs=0.1)
        assert all(float(r["low_95"]) <= float(r["proportion"]) <= float(r["high_95"]) for r in mine)
        assert all(float(r["adjusted_low_95"]) <= float(r["adjusted_proportion"]) <= float(r["adjusted_high_95"])
                   for r in mine)
        groups = [r for r in census if r["sample"] == sample and r["kind"] == "novel group"]
        assert sum(int(r["count"]) for r in groups) == sum(int(r["count"]) for r in mine if r["kind"] != "species")
    with open(out / "census-wide.csv", newline="") as f:
        wide = list(csv.DictReader(f))
    assert [r["sample"] for r in wide] == ["core_A", "core_B"]
    assert all(int(r["specimens"]) == sum(f"/{r['sample']}/" in file for file in truth) for r in wide)
    assert (out / "census.png").stat().st_size > 0 and (out / "review-groups.html").is_file()
    assert (out / "census-wide-adjusted.csv").is_file()


def test_grouping_every_specimen_or_none(withheld_run, library, tmp_path):
    root, truth = _samples(withheld_run, tmp_path)
    for scope in ("all", "none"):
        out = tmp_path / scope
        identify_command(compose_app("identify", [f"library={library}", f"images={root}", "num_workers=0",
                                                  f"groups={scope}", "review.enabled=false"], out))
        with open(out / "predictions.csv", newline="") as f:
            grouped = [bool(r["group"]) for r in csv.DictReader(f)]
        assert all(grouped) if scope == "all" else not any(grouped)
        assert (out / "groups.csv").is_file() == (scope == "all")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (make browser)")
def test_naming_a_group_in_the_browser_names_every_member_and_grows_the_library(withheld_run, library, tmp_path):
    import html as html_lib
    import re

    root, _ = _samples(withheld_run, tmp_path)
    out = tmp_path / "identified"
    identify_command(compose_app("identify", [f"library={library}", f"images={root}", "num_workers=0",
                                              "groups=all"], out))
    page = (out / "review-groups.html").read_text()
    fill = ("() => { const box = document.querySelector('div.group input.group-name'); box.value = 'Novum genus';"
            "box.dispatchEvent(new Event('input')); document.getElementById('save').click(); }")
    saved = _saved_verdicts(page, fill, out)
    members = json.loads(html_lib.unescape(re.search(r'<div class="group" data-group="G1" data-files="([^"]+)"',
                                                     page).group(1)))
    with open(out / "groups.csv", newline="") as f:
        assert len(members) == int(next(csv.DictReader(f))["size"]) > 1
    assert list(csv.DictReader(saved.splitlines())) == [{"file": m, "species": "Novum genus"} for m in members]
    verdicts = tmp_path / "verdicts.csv"
    verdicts.write_text(saved)
    grown = _command(library, "command=add", f"images={verdicts}", tmp_path=tmp_path)
    assert grown.counts()["Novum genus"] == len(members)

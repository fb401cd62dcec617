"""The library grows with the expert: add species from a few images, remove, relabel, recalibrate, without retraining;
every change recorded, written atomically, refused when it would corrupt the library."""

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
from helpers import compose_app, library_cmd, split_parts

from forams_lightning.identify.command import identify_command
from forams_lightning.library.storage import load_library


def _identify_accuracy(lib: Path, pairs: list[tuple[str, str]], tmp_path: Path) -> float:
    folder = tmp_path / "queries"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    truth = {}
    for i, (src, species) in enumerate(pairs):
        dst = folder / f"{i:04d}.jpg"
        shutil.copy(src, dst)
        truth[str(dst)] = species
    out = tmp_path / "identified"
    predictions = identify_command(compose_app("identify", [f"library={lib}", f"images={folder}", "num_workers=0",
                                                    "review.enabled=false"], out))
    with open(predictions, newline="") as f:
        return float(np.mean([row["species"] == truth[row["file"]] for row in csv.DictReader(f)]))




def test_three_images_of_a_new_species_make_it_identifiable(withheld_run, lib, tmp_path):
    run_dir = withheld_run[0]
    parts = split_parts(run_dir)
    unseen = parts["unknown_test"]
    species = sorted({s for _, s in unseen})
    assert len(species) >= 2
    shots, rest = [], []
    for name in species:
        images = [p for p in unseen if p[1] == name]
        shots += images[:3]
        rest += images[3:]
    before = _identify_accuracy(lib, rest, tmp_path)
    assert before == 0.0  # the library has never seen them
    new = tmp_path / "new_species"
    for path, name in shots:
        (new / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, new / name)
    grown = library_cmd(lib, "command=add", f"images={new}", tmp_path=tmp_path)
    assert grown.counts()[species[0]] == 3 and len(grown.files) == len(load_library(lib).files)
    after = _identify_accuracy(lib, rest, tmp_path)
    known = _identify_accuracy(lib, parts["test"], tmp_path)
    assert after >= known - 0.10, (after, known)
    entry = json.loads((lib / "manifest.json").read_text())["history"][-1]
    assert entry["command"] == "add" and entry["added"] == 3 * len(species) and entry["new_species"] == species
    assert entry["threshold"].startswith("kept at")


def test_add_skips_duplicates_and_unreadable_files_and_refuses_a_second_spelling(withheld_run, lib, tmp_path,
                                                                                caplog):
    parts = split_parts(withheld_run[0])
    name = parts["unknown_test"][0][1]
    folder = tmp_path / "new" / name
    folder.mkdir(parents=True)
    images = [p for p, s in parts["unknown_test"] if s == name][:2]
    for i, src in enumerate(images):
        shutil.copy(src, folder / f"{i}.jpg")
    shutil.copy(images[0], folder / "copy_of_0.jpg")  # the same bytes twice
    shutil.copy(parts["train"][0][0], folder / "already_a_reference.jpg")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    before = load_library(lib)
    grown = library_cmd(lib, "command=add", f"images={tmp_path / 'new'}", tmp_path=tmp_path)
    assert len(grown.files) == len(before.files) + 2 and grown.counts()[name] == 2
    entry = grown.info["history"][-1]
    assert entry["duplicates_skipped"] == 2 and entry["unreadable_skipped"] == 1 and entry["added"] == 2
    assert "broken.jpg" in caplog.text and "already a reference" in caplog.text
    variant = name.upper().replace(" ", "_")
    with pytest.raises(ValueError, match=f"'{name}' vs '{variant}'|'{variant}' vs '{name}'"):
        library_cmd(lib, "command=add", f"images={folder}", f"species='{variant}'", tmp_path=tmp_path)
    assert len(load_library(lib).files) == len(grown.files)  # nothing written


def test_remove_relabel_calibrate_and_show(withheld_run, lib, tmp_path, capsys):
    before = load_library(lib)
    first = before.species[before.labels[0]]
    gone = library_cmd(lib, "command=remove", f"species='{first}'", tmp_path=tmp_path)
    assert gone.counts()[first] == 0 and len(gone.files) == len(before.files) - before.counts()[first]
    target, other = gone.files[0], gone.species[gone.labels[-1]]
    moved = library_cmd(lib, "command=relabel", f"files=['{target}']", f"species='{other}'", tmp_path=tmp_path)
    assert moved.species[moved.labels[0]] == other and len(moved.files) == len(gone.files)
    dropped = library_cmd(lib, "command=remove", f"files=['{target}']", tmp_path=tmp_path)
    assert target not in dropped.files
    with pytest.raises(ValueError, match="not references of this library"):
        library_cmd(lib, "command=remove", "files=[/no/such.jpg]", tmp_path=tmp_path)
    calibration = tmp_path / "known"
    for path, name in split_parts(withheld_run[0])["val"]:
        if dropped.counts()[name]:
            (calibration / name).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, calibration / name)
    calibrated = library_cmd(lib, "command=calibrate", f"images={calibration}", "keep_known=0.9", tmp_path=tmp_path)
    assert calibrated.threshold != dropped.threshold and calibrated.info["calibration"]["keep_known"] == 0.9
    # the census's confusion is counted again on the calibration images, each in its species' row
    row = before.species.index(first)
    assert before.confusion[row].sum() > 0 and calibrated.confusion[row].sum() == 0
    assert 0 < calibrated.confusion.sum() <= sum(1 for _ in calibration.rglob("*.*"))
    capsys.readouterr()
    library_cmd(lib, "command=show", tmp_path=tmp_path)
    shown = capsys.readouterr().out
    assert f"{first}" in shown and "history:" in shown and shown.count("command ") == 4
    assert "recalibrated" in shown and str(calibration) in shown
    assert "novel specimens grouped at average linkage" in shown and "census adjusted for the confusion" in shown


def test_a_killed_add_leaves_the_library_as_it_was(withheld_run, lib, tmp_path):
    many = tmp_path / "many" / "Novum genus"
    many.mkdir(parents=True)
    for i, (src, _) in enumerate(split_parts(withheld_run[0])["unknown_test"] * 20):
        shutil.copy(src, many / f"{i:05d}.jpg")
    before = {name: (lib / name).read_bytes() for name in ("manifest.json", "index.faiss", "references.csv")}
    command = [sys.executable, "-m", "forams_lightning.library", "add", f"library={lib}",
               f"images={many.parent}", "num_workers=0", "batch_size=8", f"hydra.run.dir={tmp_path / 'log'}"]
    process = subprocess.Popen(command, env={**os.environ, "FORAMS_OFFLINE": "1"}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (tmp_path / "log" / "library.log").is_file():
        time.sleep(0.2)
    time.sleep(5)  # well inside the embedding of ~1,000 images
    process.kill()
    process.wait()
    after = load_library(lib)
    assert {name: (lib / name).read_bytes() for name in before} == before
    assert "Novum genus" not in after.counts() or after.counts()["Novum genus"] == 0

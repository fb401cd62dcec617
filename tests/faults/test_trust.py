"""Fault and attack suite for the files users share and the outputs they open: a grown library is never replaced,
absurd manifests are refused before anything is allocated, a full disk leaves one line and no debris, spreadsheet
formulas and spoofed names do not reach a reader, and what the review shows agrees with itself. Each test names its
case; the run-folder cases that need a trained run are in test_reference.py (`test_a_tampered_run_folder_*`,
`test_export_again_after_library_add_*`)."""

from __future__ import annotations

import csv
import errno
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import compose_app, edit_manifest
from PIL import Image

from forams_lightning.atomic import AtomicCsvWriter, atomic_write_csv
from forams_lightning.library.editing import add_references, remove_references
from forams_lightning.library.embedding import Inference
from forams_lightning.library.replacing import merge_growth, place_library
from forams_lightning.library.storage import load_library, save_library

SERIAL = Inference(num_workers=0)


def _image(path: Path, shade: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((24, 24, 3), shade, np.uint8)).save(path)
    return path


def _grow(library: Path, tmp_path: Path) -> None:
    for i in range(3):
        _image(tmp_path / "new" / "G. nova" / f"{i}.png", 205 + 10 * i)
    add_references(library, str(tmp_path / "new"), inference=SERIAL)




# --- a grown library is never replaced by an export -------------------------------------------------------------

def test_exporting_onto_a_grown_library_is_refused_and_changes_nothing(small_library, tmp_path):
    _grow(small_library, tmp_path)
    before = (small_library / "references.csv").read_bytes()
    fresh = load_library(small_library).subset(np.arange(9) < 6)  # stands in for a new export: the 6 built ones
    with pytest.raises(ValueError, match=r"has changed since it was exported \(1 changes: add .*grown=merge"):
        place_library(fresh, small_library)
    assert (small_library / "references.csv").read_bytes() == before


def test_merge_carries_added_references_relabellings_and_removals(small_library, tmp_path):
    shutil.copytree(small_library, tmp_path / "as_exported")
    _grow(small_library, tmp_path)
    remove_references(small_library, files=[load_library(small_library).files[0]])
    grown = load_library(small_library)
    # a new export: the original six references again, one of them labelled otherwise by the new run
    fresh = load_library(tmp_path / "as_exported").relabelled([1], ["G. b"])
    merged = merge_growth(fresh, grown, SERIAL)
    assert sorted(merged.hashes) == sorted(grown.hashes) and len(merged.files) == 8
    assert ({h: merged.species[lab] for h, lab in zip(merged.hashes, merged.labels)}
            == {h: grown.species[lab] for h, lab in zip(grown.hashes, grown.labels)})
    assert [h["command"] for h in merged.info["history"]] == ["add", "remove", "export (merge)"]
    assert merged.info["history"][-1] | {"when": 0, "package_version": 0} == {
        "when": 0, "command": "export (merge)", "carried": 3, "relabelled": 1, "kept_out": 1, "references_after": 8,
        "package_version": 0}


def test_merge_and_replace_keep_the_previous_version_beside(small_library, tmp_path):
    _grow(small_library, tmp_path)
    fresh = load_library(small_library).subset(np.arange(9) < 6)
    fresh.info.pop("history")
    place_library(fresh, small_library, "replace")
    backups = list(tmp_path.glob("library.before-export-*"))
    assert len(backups) == 1 and len(load_library(backups[0]).files) == 9
    assert len(load_library(small_library).files) == 6


def test_export_never_replaces_a_folder_that_is_not_a_library(tmp_path, small_library):
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "thesis.tex").write_text("years of work")
    with pytest.raises(ValueError, match="exists and is not a reference library"):
        place_library(load_library(small_library), tmp_path / "papers")
    assert (tmp_path / "papers" / "thesis.tex").read_text() == "years of work"


# --- absurd manifest values: refused before anything is allocated -----------------------------------------------

@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(k=10**9), r"k=1000000000: expected a whole number from 1 to 1000"),
    (lambda m: m["preprocessing"].update(image_size=10**6), r"preprocessing.image_size=1000000"),
    (lambda m: m.update(embedding_dim=10**9), r"embedding_dim=1000000000"),
    (lambda m: m["embedder"]["head"].update(embedding_dim=10**9), r"embedder.head.embedding_dim=1000000000"),
    (lambda m: m["embedder"]["head"].update(hidden_dim=10**7), r"embedder.head.hidden_dim=10000000"),
    (lambda m: m["embedder"]["backbone"].update(layers=5), r"embedder.backbone.layers=5: expected null or a list"),
    (lambda m: m["embedder"]["backbone"].update(input_scale=float("nan")), r"embedder.backbone.input_scale=nan"),
    (lambda m: m["novelty_score"].update(extra=1), r"novelty_score: expected an object with neighbours and scale_k"),
    (lambda m: m["novelty_score"].update(neighbours=10**9), r"novelty_score.neighbours: expected a whole number"),
], ids=["k", "image_size", "embedding_dim", "head_dim", "hidden_dim", "layers", "input_scale_nan",
        "novelty_extra_key", "novelty_neighbours"])
def test_absurd_manifest_values_are_refused_naming_the_key(small_library, edit, message):
    edit_manifest(small_library, edit)
    with pytest.raises(ValueError, match=message):
        load_library(small_library)


# --- a full disk, leftovers ----------------------------------------------------------------------------------------

def test_a_full_disk_during_a_save_leaves_the_old_library_and_no_temporary_folder(small_library, monkeypatch):
    before = (small_library / "references.csv").read_bytes()

    def full(*_, **__):
        raise RuntimeError("[enforce fail at inline_container.cc] PytorchStreamWriter failed writing file")

    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**7, 10**7 - 1000, 1000))
    with pytest.raises(OSError, match=r"library=.*could not be written \(no space left on its disk: 0.0 MiB free\); "
                                      r"nothing changed"):
        save_library(load_library(small_library), small_library)
    assert (small_library / "references.csv").read_bytes() == before
    assert not list(small_library.parent.glob(".library.tmp-*"))


def test_an_export_that_would_not_fit_is_refused_before_writing(small_library, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**7, 10**7 - 1000, 1000))
    with pytest.raises(OSError, match=r"library=.*new: needs about \d+ MiB on its disk, 0.0 MiB free; nothing "):
        place_library(load_library(small_library), tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_full_disk_met_deep_in_a_library_is_one_line_naming_the_file(tmp_path):
    from forams_lightning.errors import user_error_message

    error = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "census.png"))
    message = user_error_message(error)
    assert message.startswith(f"{tmp_path / 'census.png'}: no space left on its disk, ") and "\n" not in message


def test_identify_refuses_a_run_folder_without_room_for_its_outputs(small_library, tmp_path, monkeypatch):
    from forams_lightning.identify.command import identify_command

    _image(tmp_path / "sample" / "a.png")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**7, 10**7 - 1000, 1000))
    cfg = compose_app("identify", [f"library={small_library}", f"images={tmp_path / 'sample'}", "num_workers=0"],
                      tmp_path / "out")
    with pytest.raises(OSError, match=r"the outputs of 1 specimens need about 1 MiB, 0.0 MiB free"):
        identify_command(cfg)


def test_temporary_folders_of_killed_changes_are_cleaned_by_the_next_change(small_library, tmp_path):
    stale = small_library.with_name(".library.tmp-4194303")  # above Linux's pid_max default: no such process
    stale.mkdir()
    (stale / "embedder.pt").write_bytes(b"x" * 1000)
    mine = small_library.with_name(f".library.tmp-{os.getppid()}")  # a live process's: kept
    mine.mkdir()
    _grow(small_library, tmp_path)
    assert not stale.exists() and mine.exists()


# --- spreadsheet formulas and spoofed names ----------------------------------------------------------------------

def test_csv_cells_a_spreadsheet_would_run_are_written_as_text(tmp_path):
    cells = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "-0.12500", "G. ruber", 3, -1.5]
    atomic_write_csv(tmp_path / "a.csv", ["a"] * len(cells), [cells])
    with AtomicCsvWriter(tmp_path / "b.csv", ["a"] * len(cells)) as writer:
        writer.write([cells])
    for name in ("a.csv", "b.csv"):
        row = list(csv.reader(open(tmp_path / name)))[1]
        assert row == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1+1", "'-2+3", "'@SUM(A1)", "-0.12500", "G. ruber", "3",
                       "-1.5"]


def test_identify_writes_a_formula_species_and_sample_as_text(small_library, tmp_path):
    from forams_lightning.identify.command import identify_command

    edit_manifest(small_library, lambda m: m.update(species=["=HYPERLINK(\"http://evil\")", "G. b"]))
    _image(tmp_path / "images" / "=SUM(1)" / "a.png")
    _image(tmp_path / "images" / "s2" / "b.png")
    identify_command(compose_app("identify", [f"library={small_library}", f"images={tmp_path / 'images'}",
                                              "num_workers=0", "review.enabled=false"], tmp_path / "out"))
    for name in ("predictions.csv", "census.csv"):
        text = (tmp_path / "out" / name).read_text()
        assert not any(cell.startswith("=") for line in csv.reader(text.splitlines()) for cell in line), name
    assert "'=SUM(1)" in (tmp_path / "out" / "census.csv").read_text()


def test_a_sample_whose_every_image_is_unreadable_keeps_its_row_in_the_census(small_library, tmp_path):
    from forams_lightning.identify.command import identify_command

    _image(tmp_path / "images" / "s1" / "a.png")
    (tmp_path / "images" / "s2").mkdir(parents=True)
    (tmp_path / "images" / "s2" / "broken.png").write_bytes(b"not an image")
    identify_command(compose_app("identify", [f"library={small_library}", f"images={tmp_path / 'images'}",
                                              "num_workers=0", "review.enabled=false"], tmp_path / "out"))
    with open(tmp_path / "out" / "census.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["sample"] == "s2"]
    assert [(r["kind"], r["count"]) for r in rows] == [("unreadable", "1")]
    with open(tmp_path / "out" / "census-wide.csv", newline="") as f:
        wide = {r["sample"]: r for r in csv.DictReader(f)}
    assert wide["s2"]["specimens"] == "0" and wide["s2"]["unreadable"] == "1" and wide["s1"]["specimens"] == "1"


@pytest.mark.parametrize("where", ["species folder", "verdicts csv", "sample folder", "species option"])
def test_names_with_bidirectional_controls_are_refused_naming_where(small_library, tmp_path, where):
    from forams_lightning.data.samples import sample_images
    from forams_lightning.library.sources import labelled_images

    spoofed = "G. \u202eardnuma"  # displays as "G. amundra"
    if where == "species folder":
        _image(tmp_path / "lib" / spoofed / "a.png")
        call, match = lambda: labelled_images(str(tmp_path / "lib")), "folder"
    elif where == "verdicts csv":
        (tmp_path / "v.csv").write_text(f"file,species\na.png,{spoofed}\n", encoding="utf-8")
        call, match = lambda: labelled_images(str(tmp_path / "v.csv")), r"v.csv:2"
    elif where == "sample folder":
        _image(tmp_path / "s" / spoofed / "a.png")
        call, match = lambda: sample_images(str(tmp_path / "s")), "sample folder"
    else:
        _image(tmp_path / "one" / "a.png")
        call, match = lambda: labelled_images(str(tmp_path / "one"), spoofed), "species="
    with pytest.raises(ValueError, match=rf"{match}.*invisible control characters \(U\+202E\)"):
        call()


# --- what the user sees agrees with itself -----------------------------------------------------------------------

def test_predictions_list_neighbours_in_the_order_and_distance_the_vote_used(small_library, tmp_path):
    from forams_lightning.identify.command import identify_command

    for i in range(4):
        _image(tmp_path / "images" / f"{i}.png", 30 + 50 * i)
    identify_command(compose_app("identify", [f"library={small_library}", f"images={tmp_path / 'images'}",
                                              "num_workers=0", "review.enabled=false"], tmp_path / "out"))
    rows = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    assert rows and load_library(small_library).metric == "cosine"  # CSLS re-ranks (identify's default)
    for row in rows:
        distances = [float(row[f"neighbour_{j}_distance"]) for j in range(1, 6)]
        assert distances == sorted(distances) and float(row["nearest_distance"]) == distances[0]


# --- smaller items -------------------------------------------------------------------------------------------------

def test_an_empty_images_value_is_refused_not_the_current_folder(small_library, tmp_path):
    from forams_lightning.identify.command import identify_command

    cfg = compose_app("identify", [f"library={small_library}", "images=", "num_workers=0"], tmp_path / "out")
    with pytest.raises(ValueError, match="images is empty"):
        identify_command(cfg)


def test_a_year_before_a_species_name_is_kept_and_an_ordinal_is_said(tmp_path, caplog):
    from forams_lightning.data.layouts import read_species_folders

    _image(tmp_path / "2024-Real species" / "a.png")
    _image(tmp_path / "7- Globigerinita glutinata" / "a.png")
    with caplog.at_level(logging.INFO):
        names = {s.species for s in read_species_folders(tmp_path)}
    assert names == {"2024-Real species", "Globigerinita glutinata"}
    assert any("ordinal that is not part of the species' name" in r.getMessage() for r in caplog.records)


def test_library_show_counts_a_removed_species_the_same_in_header_and_list(small_library):
    from forams_lightning.library.description import describe

    remove_references(small_library, species="G. b")
    text = describe(load_library(small_library))
    assert text.startswith("3 references of 1 species (and 1 whose references were all removed)")
    assert "G. b  0 (removed)" in text


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_lock_file_that_is_not_a_file_is_one_line_naming_it(small_library, tmp_path, kind):
    lock = small_library.with_name(".library.lock")
    lock.mkdir() if kind == "folder" else os.mkfifo(lock)
    with pytest.raises(ValueError, match=r"its lock file .*\.library\.lock is not a plain file; remove it"):
        remove_references(small_library, species="G. b")


def test_an_unknown_library_command_is_one_line(capsys):
    from forams_lightning.library.command import command_word

    with pytest.raises(SystemExit) as stop:
        command_word(["library", "frobnicate", "library=x"])
    assert stop.value.code == 1
    assert capsys.readouterr().err.strip() == ("error: 'frobnicate' is not a library command: one of show, add, "
                                               "remove, relabel, calibrate, audit (--help shows the usage)")
    argv = ["library", "add", "library=x"]
    command_word(argv)
    assert argv[1] == "command=add"


def test_training_until_stopped_is_said(make_cfg, caplog):
    from forams_lightning.runs import check_schedule

    with caplog.at_level(logging.WARNING):
        check_schedule(make_cfg("trainer.max_epochs=-1", "scheduler=none"))
    assert any("runs until it is stopped" in r.getMessage() for r in caplog.records)

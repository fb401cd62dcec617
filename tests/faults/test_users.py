"""What a careful user or a careless file does to the reference-library commands: every case ends in a clear line
(or a warning where the rest goes on), never a hang, a traceback from deep inside a library, or lost work."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import compose_app
from PIL import Image

from forams_lightning.data.images import PIXEL_BUDGET, load_rgb
from forams_lightning.data.layouts import read_species_folders
from forams_lightning.data.specimens import find_images
from forams_lightning.library.editing import add_references
from forams_lightning.library.embedding import Inference
from forams_lightning.library.sources import labelled_images
from forams_lightning.library.storage import load_library

SERIAL = Inference(num_workers=0)


def _image(path: Path, shade: int = 90, size: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), shade, np.uint8)).save(path)
    return path


def test_fifos_and_devices_are_never_read(tmp_path, caplog):
    _image(tmp_path / "specimens" / "a.png")
    os.mkfifo(tmp_path / "specimens" / "pipe.jpg")
    assert find_images(str(tmp_path / "specimens")) == [str(tmp_path / "specimens" / "a.png")]
    assert "1 entries that are not regular files" in caplog.text
    with pytest.raises(ValueError, match="not a regular file"):
        load_rgb("/dev/zero")
    verdicts = tmp_path / "verdicts.csv"  # a verdicts row naming a device or a FIFO: skipped, not a hang
    verdicts.write_text(f"file,species\n/dev/zero,G. a\n{tmp_path / 'specimens' / 'pipe.jpg'},G. b\n")
    assert len(labelled_images(str(verdicts))) == 2  # listed; the embedding reports each as unreadable


def test_add_of_a_csv_naming_only_unreadable_files_adds_nothing_and_says_so(small_library, tmp_path):
    verdicts = tmp_path / "verdicts.csv"
    verdicts.write_text(f"file,species\n/dev/zero,G. a\nmissing.jpg,G. b\n{tmp_path}/gone.png,G. b\n")
    before = (small_library / "references.csv").read_bytes()
    with pytest.raises(ValueError, match=r"nothing added \(3 unreadable or missing, 0 already references"):
        add_references(small_library, str(verdicts), inference=SERIAL)
    assert (small_library / "references.csv").read_bytes() == before


def test_verdict_csvs_in_excels_utf8_are_read_and_other_encodings_named(tmp_path):
    _image(tmp_path / "a.png")
    excel = tmp_path / "excel.csv"
    excel.write_bytes("\ufefffile,species\na.png,Globigerina bulloides\n".encode("utf-8"))
    assert labelled_images(str(excel)) == [(str((tmp_path / "a.png").resolve()), "Globigerina bulloides")]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("file,species\na.png,Globigerinoïdes ruber\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin.csv: not UTF-8 text .*save it as UTF-8"):
        labelled_images(str(latin))


def test_one_file_given_two_species_is_refused_naming_both_lines(tmp_path, caplog):
    _image(tmp_path / "a.png")
    twice = tmp_path / "twice.csv"
    twice.write_text("file,species\na.png,G. a\nsub/../a.png,G. a\n")
    assert len(labelled_images(str(twice))) == 1 and "1 repeated row(s) dropped" in caplog.text
    conflict = tmp_path / "conflict.csv"
    conflict.write_text("file,species\na.png,G. a\n./a.png,G. b\n")
    with pytest.raises(ValueError, match=r"conflict.csv:3: './a.png' is 'G. b' here but 'G. a' on line 2"):
        labelled_images(str(conflict))


def test_species_folders_without_a_name_are_refused_and_hidden_ones_said(tmp_path, caplog):
    for folder in ("Globigerina bulloides", "_drafts", ".cache"):
        _image(tmp_path / "data" / folder / "x.png")
    samples = read_species_folders(tmp_path / "data")
    assert {s.species for s in samples} == {"Globigerina bulloides"}
    assert "not species, skipped: ['.cache', '_drafts']" in caplog.text
    _image(tmp_path / "data" / "7 - " / "x.png")
    with pytest.raises(ValueError, match=r"folder '7 - ' leaves no species name"):
        read_species_folders(tmp_path / "data")
    with pytest.raises(ValueError, match="images is empty"):
        read_species_folders("", key="images")


def test_a_symlinked_folder_is_searched_once_and_a_loop_is_cut(tmp_path, caplog):
    _image(tmp_path / "elsewhere" / "b.png")
    _image(tmp_path / "sample" / "a.png")
    (tmp_path / "sample" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "sample" / "loop").symlink_to(tmp_path / "sample")
    found = find_images(str(tmp_path / "sample"))
    assert [Path(f).name for f in found] == ["a.png", "b.png"]
    assert "1 symbolic-link loops" in caplog.text


def test_a_flat_folder_without_species_names_the_option_of_add(small_library, tmp_path):
    _image(tmp_path / "flat" / "a.png")
    with pytest.raises(FileNotFoundError, match=r"no images found under images=.*flat"):
        add_references(small_library, str(tmp_path / "flat"), inference=SERIAL)


def test_huge_images_are_decoded_within_the_pixel_budget(tmp_path):
    side = int((PIXEL_BUDGET * 2.2) ** 0.5)  # 66 MP
    Image.new("RGB", (side, side), (120, 60, 30)).save(tmp_path / "huge.jpg", quality=50)
    img = load_rgb(tmp_path / "huge.jpg")
    assert img.width * img.height <= PIXEL_BUDGET and img.width == pytest.approx(side / 2, abs=1)
    Image.new("L", (side, side)).save(tmp_path / "huge.png")
    assert load_rgb(tmp_path / "huge.png").width * load_rgb(tmp_path / "huge.png").height <= PIXEL_BUDGET


def test_identify_of_a_folder_of_unreadable_files_fails_with_the_count(small_library, tmp_path):
    from forams_lightning.identify.command import identify_command

    (tmp_path / "bad").mkdir()
    for name in ("a.jpg", "b.png"):
        (tmp_path / "bad" / name).write_text("not an image")
    cfg = compose_app("identify", [f"library={small_library}", f"images={tmp_path / 'bad'}", "num_workers=0"],
                      tmp_path / "out")
    with pytest.raises(ValueError, match="none of the 2 files could be read as an image"):
        identify_command(cfg)
    assert (tmp_path / "out" / "predictions.csv").is_file()  # the errors stay readable


def test_a_moved_library_reviews_with_its_own_thumbnails(small_library, tmp_path, capsys):
    from forams_lightning.identify.command import identify_command
    from forams_lightning.library.command import library_command

    library = load_library(small_library)
    assert all((small_library / "thumbnails" / f"{h}.jpg").is_file() for h in library.hashes)
    moved = tmp_path / "colleague" / "library"
    shutil.copytree(small_library, moved)
    shutil.rmtree(tmp_path / "references")  # the images stay behind on the first machine
    library_command(compose_app("library", [f"library={moved}"], tmp_path / "show"))
    assert "6 of 6 reference images are not at their stored paths" in capsys.readouterr().out
    _image(tmp_path / "sample" / "s.png", shade=70)
    identify_command(compose_app("identify", [f"library={moved}", f"images={tmp_path / 'sample'}", "num_workers=0"],
                         tmp_path / "review"))
    page = (tmp_path / "review" / "review.html").read_text()
    assert "not found" not in page and page.count("<img") == 1 + library.k


def test_a_tree_moved_as_a_whole_finds_its_images_again(small_library, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.move(small_library, project / "library")
    shutil.move(tmp_path / "references", project / "references")
    moved = tmp_path / "elsewhere"
    shutil.move(project, moved)
    library = load_library(moved / "library")
    assert all(Path(f).is_file() and Path(f).is_relative_to(moved) for f in library.files)


def test_refused_commands_leave_no_run_folder_and_say_one_line(tmp_path):
    env = {**os.environ, "FORAMS_OFFLINE": "1"}
    done = [subprocess.run([sys.executable, "-m", "forams_lightning.identify", *args], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
            for args in (["library=x"], ["library=x", "images=y", "hydra.run.dir=/proc/x"])]
    assert [d.returncode for d in done] == [1, 1]
    assert done[0].stderr.strip() == "error: required: images=... (--help shows the usage)"
    assert done[1].stderr.strip().startswith("error: hydra.run.dir=/proc/x: the run folder cannot be made")
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("override, message", [
    ("trainer.max_epochs=-1", "the cosine schedule needs a number of epochs"),
    ("trainer.max_epochs=-3", r"trainer.max_epochs=-3: a number of epochs >= 0, or -1"),
    ("data.root=", "data.root is empty"),
])
def test_impossible_runs_are_refused_before_anything_runs(make_cfg, override, message, caplog):
    from forams_lightning.train import train

    overrides = [override] if override.startswith("trainer") else ["data=folders", override]
    with caplog.at_level(logging.INFO), pytest.raises(ValueError, match=message):
        train(make_cfg(*overrides))

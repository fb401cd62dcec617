"""Fault suite: bad images, bad manifests, bad folders, bad output locations. Each case: a clear message naming the
file or key, and the right action (skip and report, or stop before training)."""

from __future__ import annotations

import inspect
import json
import logging
import shutil
import typing
from pathlib import Path

import numpy as np
import pytest
from omegaconf import open_dict
from PIL import Image

from forams_lightning.data.datamodule import ForamsDataModule
from forams_lightning.data.images import load_rgb
from forams_lightning.data.layouts import read_manifest


def _library(root: Path, species: dict[str, int]) -> Path:
    rng = np.random.default_rng(0)
    for name, n in species.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(root / name / f"{i}.jpg")
    return root


def _bad_files(folder: Path) -> dict[str, str]:
    """Each kind of unreadable file, written into `folder` (a species folder)."""
    good = (folder / "0.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "zero.png").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not an image")
    (folder / "fake.tif").write_bytes(b"II*\x00garbage-that-is-not-a-tiff")
    return {"truncated.jpg": "truncated", "zero.png": "", "text.jpg": "", "fake.tif": ""}


def _dm(root: Path, tmp_path: Path, **kw) -> ForamsDataModule:
    options = dict(root=str(root), image_size=32, output_dir=str(tmp_path / "run"), num_workers=0,
                   split={"val_fraction": 0.2, "test_fraction": 0.2, "min_units": 3}, sampler={"p": 2, "k": 2})
    return ForamsDataModule(**{**options, **kw})


@pytest.mark.parametrize("cache", [False, True], ids=["screening", "decoded-cache"])
def test_unreadable_images_are_skipped_with_one_warning_and_counted(tmp_path, caplog, cache):
    root = _library(tmp_path / "lib", {"A_a": 8, "B_b": 8})
    bad = _bad_files(root / "A_a")
    dm = _dm(root, tmp_path, cache=cache, cache_dir=str(tmp_path / "decoded"))
    with caplog.at_level(logging.WARNING):
        dm.setup("fit")
    warnings = [r for r in caplog.records if "unreadable image" in r.getMessage()]
    assert len(warnings) == 1 and all(name in warnings[0].getMessage() for name in bad)
    assert dm.split_report["bad_images"] == 4 and len(dm.samples) == 16
    listed = (tmp_path / "run" / "bad_images.csv").read_text().splitlines()
    assert listed[0] == "path,error" and len(listed) == 5


def test_on_bad_image_error_stops_before_training_naming_the_files(tmp_path):
    root = _library(tmp_path / "lib", {"A_a": 8, "B_b": 8})
    _bad_files(root / "B_b")
    with pytest.raises(ValueError, match=r"4 unreadable image\(s\).*on_bad_image=error[\s\S]*zero.png"):
        _dm(root, tmp_path, on_bad_image="error").setup("fit")
    with pytest.raises(ValueError, match="data.on_bad_image must be"):
        _dm(root, tmp_path, on_bad_image="ignore").setup("fit")


def test_species_losing_every_image_is_reported(tmp_path, caplog):
    root = _library(tmp_path / "lib", {"A_a": 8, "B_b": 8, "C_c": 0})
    (root / "C_c" / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    dm = _dm(root, tmp_path)
    with caplog.at_level(logging.WARNING):
        dm.setup("fit")
    assert "C_c" not in dm.species
    assert any("no readable image left" in r.getMessage() and "C_c" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name,make,size", [  # grayscale, RGBA, palette, 16-bit, EXIF: tests/test_transforms.py
    ("cmyk.jpg", lambda: Image.new("CMYK", (30, 20), (0, 50, 100, 0)), (30, 20)),
    ("huge.jpg", lambda: Image.new("RGB", (6000, 4000), (10, 20, 30)), (6000, 4000)),
    ("tiny.png", lambda: Image.new("RGB", (8, 8), (10, 20, 30)), (8, 8)),
])
def test_unusual_but_valid_images_load(tmp_path, name, make, size):
    make().save(tmp_path / name)
    img = load_rgb(tmp_path / name)
    assert img.mode == "RGB" and img.size == size


def test_species_with_one_image_and_tiny_library_train_without_hanging(make_cfg, tmp_path):
    """One-image species (no positive pair), more species than P, fewer images than one P×K batch."""
    from forams_lightning.train import train

    root = _library(tmp_path / "lib", {"A_a": 5, "B_b": 5, "C_c": 1, "D_d": 4})
    cfg = make_cfg("data=folders", f"data.root={root}", "data.image_size=32", "data.sampler.p=8",
                   "data.sampler.k=4", "data.split.min_units=3", "trainer.max_epochs=1", "callbacks.morphospace=null")
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "C_c" in metrics["split"]["train_only_species"] and metrics["epochs"] == 1


def test_missing_or_misspelt_root_names_the_key(make_cfg, tmp_path):
    from forams_lightning.train import train

    cfg = make_cfg("data=folders", f"data.root={tmp_path / 'no_such_folder'}")
    with pytest.raises(FileNotFoundError, match=r"data.root=.*no_such_folder is not a folder"):
        train(cfg)


@pytest.mark.parametrize("override,key", [("data.image_size=-5", "data.image_size=-5"),
                                          ("data.eval_batch_size=0", "data.eval_batch_size=0"),
                                          ("model.freeze=sometimes", "model.freeze")])
def test_user_errors_end_with_one_line_naming_the_key(make_cfg, capsys, monkeypatch, override, key):
    from hydra.errors import InstantiationException

    from forams_lightning.cli import entry_point
    from forams_lightning.train import train

    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    cfg = make_cfg(override)
    with pytest.raises(SystemExit) as stop:
        entry_point(train)(cfg)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 1 and len(err) == 1 and err[0].startswith("error: ") and key in err[0], err
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")  # the traceback stays reachable
    with pytest.raises(InstantiationException):
        entry_point(train)(make_cfg(override))


def test_defects_keep_their_traceback(make_cfg, monkeypatch):
    from forams_lightning.cli import entry_point

    def broken(cfg):
        return {}["missing"]

    with pytest.raises(KeyError):
        entry_point(broken)(make_cfg())


def test_split_file_that_does_not_match_the_data(tmp_path):
    root = _library(tmp_path / "lib", {"A_a": 8, "B_b": 8})
    _dm(root, tmp_path).setup("fit")
    split = tmp_path / "run" / "split.csv"
    shutil.rmtree(root / "B_b")
    _library(root, {"C_c": 8})
    with pytest.raises(ValueError, match=r"data.split_file=.*does not list 8 image"):
        _dm(root, tmp_path / "again", split_file=str(split)).setup("fit")


def test_unknown_config_key_is_named(make_cfg):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="data.rooot"):
        make_cfg("data.rooot=/x")


def test_manifest_faults_name_the_line(tmp_path):
    _library(tmp_path / "lib", {"A_a": 2})
    (tmp_path / "outside.jpg").write_bytes((tmp_path / "lib" / "A_a" / "0.jpg").read_bytes())
    cases = {
        "path,label\nA_a/0.jpg,A_a\nA_a/0.jpg,B_b\n": (ValueError, r"m.csv:3: 'A_a/0.jpg' is labelled 'B_b'"),
        "path,label\n../outside.jpg,A_a\n": (ValueError, r"m.csv:2: '../outside.jpg' points outside data.root"),
        "path,label\nA_a/0.jpg,\n": (ValueError, r"m.csv:2: empty"),
        "file,label\nA_a/0.jpg,A_a\n": (ValueError, r"missing column\(s\) \['path'\]"),
    }
    for text, (error, message) in cases.items():
        (tmp_path / "lib" / "m.csv").write_text(text)
        with pytest.raises(error, match=message):
            read_manifest(tmp_path / "lib" / "m.csv")


def test_manifest_duplicate_rows_are_dropped_with_a_warning(tmp_path, caplog):
    _library(tmp_path / "lib", {"A_a": 2})
    (tmp_path / "lib" / "m.csv").write_text("path,label\nA_a/0.jpg,A_a\nA_a/1.jpg,A_a\nA_a/0.jpg,A_a\n")
    with caplog.at_level(logging.WARNING):
        samples = read_manifest(tmp_path / "lib" / "m.csv")
    assert len(samples) == 2 and any("1 duplicate row" in r.getMessage() for r in caplog.records)


def test_unwritable_output_folder_fails_before_training(make_cfg, tmp_path):
    from forams_lightning.train import train

    blocker = tmp_path / "file_not_folder"
    blocker.write_text("x")
    cfg = make_cfg()
    with open_dict(cfg):
        cfg.paths.output_dir = str(blocker / "run")
    with pytest.raises(OSError, match=r"output folder .*file_not_folder/run"):
        train(cfg)


def test_a_kill_while_writing_leaves_the_old_file(tmp_path):
    """A real SIGKILL between writing the temporary file and renaming it: the old metrics survive, intact."""
    import subprocess
    import sys

    target = tmp_path / "metrics.json"
    target.write_text('{"old": true}\n')
    script = (
        "import os, signal, sys\n"
        "from forams_lightning import atomic\n"
        "def killed(*a): os.kill(os.getpid(), signal.SIGKILL)\n"
        "atomic.os.replace = killed\n"  # die at the last moment: the new content is fully on disk, not yet renamed
        f"atomic.atomic_write_json({str(target)!r}, {{'new': 'x' * 1_000_000}})\n")
    assert subprocess.run([sys.executable, "-c", script], timeout=120).returncode == -9
    assert json.loads(target.read_text()) == {"old": True}
    failed = tmp_path / "broken.json"
    from forams_lightning.atomic import atomic_write_json

    with pytest.raises(TypeError):
        atomic_write_json(failed, {"not serialisable": object()})
    assert not failed.exists() and not list(tmp_path.glob(".broken.json.*"))


def test_streamed_csv_replaces_the_file_only_when_complete(tmp_path):
    """predictions.csv of identify: rows streamed into a hidden file; a failure midway leaves the old file alone."""
    from forams_lightning.atomic import AtomicCsvWriter

    target = tmp_path / "predictions.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with AtomicCsvWriter(target, ["file", "species"]) as writer:
            writer.write([["a.jpg", "x"]])
            raise RuntimeError("killed midway")
    assert target.read_text() == "old\n" and not list(tmp_path.glob(".predictions.csv*"))
    with AtomicCsvWriter(target, ["file", "species"]) as writer:
        writer.write([["a.jpg", "x"]])
        writer.write([["b, c.jpg", "y"]])
    assert target.read_text() == 'file,species\na.jpg,x\n"b, c.jpg",y\n'


def test_nearly_full_disk_fails_before_training(make_cfg, tmp_path, monkeypatch):
    import shutil as sh
    from collections import namedtuple

    from forams_lightning.train import train

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(sh, "disk_usage", lambda _: usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(OSError, match=r"only 1 MiB free"):
        train(make_cfg())
    assert not (tmp_path / "split.csv").exists()  # nothing started


def test_species_with_queries_but_no_reference_is_reported(tmp_path, caplog):
    root = _library(tmp_path / "lib", {"A_a": 8, "B_b": 8})
    dm = _dm(root, tmp_path)
    dm.setup("fit")
    split = (tmp_path / "run" / "split.csv").read_text().replace("B_b/7.jpg,B_b,train", "B_b/7.jpg,B_b,val")
    split = "\n".join(line.replace(",train", ",val") if ",B_b," in line else line for line in split.splitlines())
    (tmp_path / "edited.csv").write_text(split + "\n")
    dm = _dm(root, tmp_path / "again", split_file=str(tmp_path / "edited.csv"))
    with caplog.at_level(logging.WARNING):
        dm.setup("fit")
    assert dm.split_report["species_without_references"] == ["B_b"]
    assert any("no training image" in r.getMessage() and "B_b" in r.getMessage() for r in caplog.records)


def test_wrongly_typed_config_values_are_named_before_training(make_cfg, tmp_path):
    from forams_lightning.train import train

    with pytest.raises(ValueError) as raised:
        train(make_cfg("trainer.max_epochs=abc", "model.tta_rotations=x"))
    message = str(raised.value)
    assert "trainer.max_epochs='abc': expected int or null" in message
    assert "model.tta_rotations='x': expected int" in message
    assert not (tmp_path / "config.yaml").exists()


def test_option_dicts_are_checked_key_by_key(make_cfg):
    # The option groups are plain mappings in YAML; their TypedDict or dataclass annotation makes them closed:
    # misspelt keys and wrong types are named before anything runs.
    from forams_lightning.train import train

    with pytest.raises(ValueError) as raised:
        train(make_cfg("data.sampler.p=five", "+data.sampler.pp=3", "data.split.val_fraction=a",
                       "+data.augment.rotate=90", "data.synthetic.n_species=3.5", "data.crop_border={bottom:0.1}",
                       "+data.open_set.fols=5", "+data.manifest_columns={label_column:1}"))
    lines = str(raised.value).splitlines()[1:]
    assert [line.strip() for line in lines] == [
        "data.synthetic.n_species=3.5: expected int",
        "data.crop_border.bottom: unknown key; known: ['bottom_fraction', 'dark_threshold']",
        "data.split.val_fraction='a': expected float",
        "data.open_set.fols: unknown key; known: ['class_split_column', 'fold', 'folds', 'seed', 'unknown']",
        "data.sampler.p='five': expected int",
        "data.sampler.pp: unknown key; known: ['k', 'num_batches', 'p']",
        "data.augment.rotate: unknown key; known: ['blur', 'color_jitter', 'flips', 'rotation', 'scale']",
        "data.manifest_columns.label_column=1: expected str",
    ]


@pytest.mark.parametrize("schema, consumers, passed_as", [
    ("data.samplers.SamplerOptions", ["data.samplers.PKBatchSampler"], {}),
    # the datamodule hands `groups` to group_split as `parts` (stratified_split's own `groups` is something else)
    ("data.splits.SplitOptions", ["data.splits.stratified_split", "data.splits.group_split"], {"groups": "parts"}),
    ("data.splits.OpenSetOptions", ["data.splits.held_out_species", "data.layouts.read_manifest"], {}),
    ("data.layouts.ManifestColumns", ["data.layouts.read_manifest"], {}),
    ("data.transforms.CropBorderOptions", ["data.transforms.CropBorder"], {}),
])
def test_option_schemas_name_real_parameters(schema, consumers, passed_as):
    # A TypedDict cannot be derived from a signature: a parameter renamed in the code must be renamed in its schema.
    from hydra.utils import get_object

    params = set().union(*(inspect.signature(get_object(f"forams_lightning.{c}")).parameters for c in consumers))
    keys = {passed_as.get(k, k) for k in typing.get_type_hints(get_object(f"forams_lightning.{schema}"))}
    assert keys <= params, keys - params


def test_labels_spelt_two_ways_are_flagged(tmp_path, caplog):
    from forams_lightning.data.layouts import spelling_variants

    assert spelling_variants(["G ruber", "G_ruber", "g  Ruber", "G sacculifer"]) == [["G ruber", "G_ruber", "g  Ruber"]]
    _library(tmp_path / "lib", {"A_a": 6, "B_b": 6})
    (tmp_path / "lib" / "m.csv").write_text("path,label\n" + "".join(
        f"A_a/{i}.jpg,{'Aus alba' if i % 2 else 'Aus_alba'}\nB_b/{i}.jpg,Bus beta\n" for i in range(6)))
    dm = ForamsDataModule(manifest=str(tmp_path / "lib" / "m.csv"), image_size=32, num_workers=0,
                          split={"val_fraction": 0.2, "test_fraction": 0.2, "min_units": 2})
    with caplog.at_level(logging.WARNING):
        dm.setup("fit")
    assert any("differ only in case" in r.getMessage() and "Aus_alba" in r.getMessage() for r in caplog.records)

"""Shared libraries and checkpoints are data: nothing they name runs, damage is refused in one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import REPO, compose_app, edit_manifest

from forams_lightning.checkpoints import load_checkpoint
from forams_lightning.export import export
from forams_lightning.identify.command import identify_command
from forams_lightning.library.storage import load_library


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




class RunsCode:
    """Unpickling this writes a file: the proof that loading ran code."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "ran"))




def test_a_library_describes_its_network_by_plain_arguments_and_reloads(small_library):
    manifest = json.loads((small_library / "manifest.json").read_text())
    assert manifest["version"] == 3 and "_target_" not in json.dumps(manifest)
    library = load_library(small_library)
    assert library.network()(torch.rand(2, 3, 32, 32)).shape == (2, 8)


def test_libraries_written_with_class_names_still_load(small_library):
    """Version 1 manifests name the package's own classes in `_target_`: those (and only those) are accepted."""
    def old_style(m):
        m["version"] = 1
        m["embedder"]["backbone"]["_target_"] = "forams_lightning.models.backbones.Backbone"
        m["embedder"]["head"].update({"_target_": "forams_lightning.models.heads.EmbeddingHead", "_partial_": True})

    edit_manifest(small_library, old_style)
    library = load_library(small_library)
    assert "_target_" not in json.dumps(library.embedder_spec)  # written back without them


@pytest.mark.parametrize("edit, key", [
    (lambda m, p: m["embedder"]["backbone"].update(name={"_target_": "builtins.open", "_args_": [p, "w"]}),
     "embedder.backbone.name"),
    (lambda m, p: m["embedder"]["backbone"].update(_target_="pathlib.Path.touch", self=p),
     "embedder.backbone._target_"),
    (lambda m, p: m["embedder"]["head"].update(_target_="builtins.open", file=p, mode="w"), "embedder.head._target_"),
    (lambda m, p: m["embedder"].update(members=[{"_target_": "builtins.open", "_args_": [p, "w"]}]),
     "embedder.members[0].backbone"),
    (lambda m, p: m["embedder"]["backbone"].update(eval=p), "embedder.backbone.eval"),
])
def test_a_manifest_that_names_code_is_refused_and_nothing_runs(small_library, tmp_path, edit, key):
    target = tmp_path / "written_by_the_manifest"
    edit_manifest(small_library, lambda m: edit(m, str(target)))
    with pytest.raises(ValueError, match=r"manifest\.json: " + re.escape(key)):
        load_library(small_library)
    assert not target.exists()


def test_the_library_command_refuses_a_tampered_manifest_in_one_line(small_library, tmp_path):
    target = tmp_path / "written_by_the_manifest"
    edit_manifest(small_library, lambda m: m["embedder"]["backbone"].update(
        name={"_target_": "builtins.open", "_args_": [str(target), "w"]}))
    done = subprocess.run([sys.executable, "-m", "forams_lightning.library", "show", f"library={small_library}",
                           f"hydra.run.dir={tmp_path / 'out'}"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "FORAMS_OFFLINE": "1"}, timeout=120)
    assert done.returncode == 1 and not target.exists()
    assert done.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in done.stderr
    assert "embedder.backbone.name: expected a plain value" in done.stderr


@pytest.mark.parametrize("damage, message", [
    (lambda lib: (lib / "manifest.json").write_text((lib / "manifest.json").read_text()[:40]), "not valid JSON"),
    (lambda lib: edit_manifest(lib, lambda m: m.update(k="5")), r"k=\"5\": expected a whole number"),
    (lambda lib: edit_manifest(lib, lambda m: m.update(species="G. a")), "species="),
    (lambda lib: edit_manifest(lib, lambda m: m.pop("metric")), "missing 'metric'"),
    (lambda lib: edit_manifest(lib, lambda m: m["preprocessing"].update(image_size="big")),
     "preprocessing.image_size"),
    (lambda lib: edit_manifest(lib, lambda m: m.update(version=9)), "version 9"),
    (lambda lib: (lib / "index.faiss").write_bytes((lib / "index.faiss").read_bytes()[:50]), "index.faiss: not a"),
    (lambda lib: (lib / "references.csv").write_text("file,species,label\na.png,G. a,x\n"), "references.csv"),
    (lambda lib: (lib / "references.csv").write_bytes(b"file,species,label,sha1\n\xff\xfe,G,0,\n"), "references.csv"),
    (lambda lib: torch.save([torch.zeros(1)], lib / "embedder.pt"), "embedder.pt: not the weights"),
])
def test_a_damaged_library_is_refused_naming_the_file(small_library, damage, message):
    damage(small_library)
    with pytest.raises(ValueError, match=message):
        load_library(small_library)


def test_weights_of_another_network_are_refused_when_it_is_built(small_library, tmp_path):
    """The network is built the first time a file is embedded (reading a library imports no backbone library);
    identify refused there leaves no partial embeddings file in its run folder."""
    from helpers import compose_app


    torch.save({"w": torch.zeros(1)}, small_library / "embedder.pt")
    library = load_library(small_library)
    with pytest.raises(ValueError, match="embedder.pt: not the weights of the network manifest.json describes"):
        library.network()
    out = tmp_path / "identified"
    images = str(tmp_path / "references")
    with pytest.raises(ValueError, match="embedder.pt: not the weights"):
        identify_command(compose_app("identify", [f"library={small_library}", f"images={images}",
                                                  "num_workers=0"], out))
    assert not list(out.glob(".embeddings.npy.tmp-*"))


def test_weights_that_carry_code_are_refused(small_library, tmp_path):
    target = tmp_path / "ran"
    torch.save({"x": RunsCode(str(target))}, small_library / "embedder.pt")
    with pytest.raises(ValueError, match="embedder.pt: refused"):
        load_library(small_library)
    assert not target.exists()


def test_a_checkpoint_that_carries_code_is_refused_before_anything_runs(tmp_path):
    target, ckpt = tmp_path / "ran", tmp_path / "shared.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": RunsCode(str(target))}, ckpt)
    with pytest.raises(ValueError, match=r"shared\.ckpt: refused: it holds a Python object \(getattr\)"):
        load_checkpoint(ckpt)
    assert not target.exists()
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="text.ckpt: not a readable weights file"):
        load_checkpoint(tmp_path / "text.ckpt")

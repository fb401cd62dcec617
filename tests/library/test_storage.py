"""A library on disk: self-describing, reloaded whole, provenance apart from its fields; a killed save leaves the old
one."""

from __future__ import annotations

import json

from forams_lightning.library.storage import load_library


def test_an_interrupted_swap_is_undone_on_load(lib):
    """`save` renames the old library aside before renaming the new one in: a kill between leaves it aside."""
    before = (lib / "references.csv").read_text()
    aside = lib.with_name(f".{lib.name}.old-12345")
    lib.rename(aside)
    restored = load_library(lib)
    assert lib.is_dir() and not aside.exists() and (lib / "references.csv").read_text() == before
    assert len(restored.files) == len(before.splitlines()) - 1




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


def test_library_round_trip_keeps_provenance_apart_from_its_fields(library):
    lib = load_library(library)
    assert {"checkpoint", "created", "calibration", "git_commit"} <= set(lib.info)
    assert not {"species", "k", "novelty_threshold", "embedder"} & set(lib.info)

"""Shared fixtures: the real composed Hydra config, shrunk to the tiny synthetic library on CPU; a library built in a
second; and the two trained runs (closed-set, and open-set with species withheld) that the library, identify,
export and eval tests share, trained once a session. Helpers that are not fixtures: `helpers.py`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import TINY_NETWORK, compose_app, compose_train

WITHHELD = ["data.synthetic.n_species=10", "data.synthetic.max_images=30", "data.synthetic.min_images=14",
            "data.synthetic.image_size=96", "data.image_size=96", "data.open_set.folds=4", "data.open_set.fold=0"]









@pytest.fixture(scope="session", autouse=True)
def shared_server_umask():
    """The suite writes under umask 022 (a shared lab server's default), whatever the shell running it has."""
    import os

    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One generated tiny library for the whole session."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def make_cfg(tmp_path, cache_dir):
    return lambda *overrides: compose_train(list(overrides), tmp_path, cache_dir)






@pytest.fixture
def small_library(tmp_path) -> Path:
    """A library of 6 references of 2 species and a tiny random network (timm's test_efficientnet): built in a
    second, no training."""
    import numpy as np
    from PIL import Image

    from forams_lightning.library.reference_library import ReferenceLibrary
    from forams_lightning.library.storage import save_library
    from forams_lightning.models.embedder import build_embedder

    images = tmp_path / "references"
    images.mkdir()
    files = []
    for i in range(6):
        files.append(str(images / f"{i}.png"))
        Image.fromarray(np.full((24, 24, 3), 40 * i, np.uint8)).save(files[-1])
    library = ReferenceLibrary(embedder=build_embedder(TINY_NETWORK), embedder_spec=TINY_NETWORK,
                               embeddings=np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32),
                               labels=np.array([0, 0, 0, 1, 1, 1]), files=files, species=["G. a", "G. b"],
                               threshold=0.5, preprocessing={"image_size": 32, "crop_border": None,
                                                             "exif_transpose": True})
    return save_library(library, tmp_path / "library")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, cache_dir):
    """(run folder, metrics) of two epochs of the default recipe on the tiny library (read-only: copy to change)."""
    from forams_lightning.train import train

    run = tmp_path_factory.mktemp("run")
    train(compose_train(["trainer.max_epochs=2", "callbacks.morphospace=null"], run, cache_dir))
    return run, json.loads((run / "metrics.json").read_text())


@pytest.fixture(scope="session")
def trained_library(trained_run, tmp_path_factory) -> Path:
    """The library `export` builds from `trained_run` (its run folder's best checkpoint, into run/library)."""
    from forams_lightning.export import export

    run, _ = trained_run
    return export(compose_app("export", [f"ckpt={run}", "num_workers=0"], tmp_path_factory.mktemp("export")))


@pytest.fixture(scope="session")
def withheld_run(tmp_path_factory, cache_dir):
    """(run folder, library) of the open-set recipe trained with 3 of 10 species withheld, exported to a library
    of the 7 known species (read-only: copy to change)."""
    from forams_lightning.export import export
    from forams_lightning.train import train

    run_dir = tmp_path_factory.mktemp("withheld")
    train(compose_train(["+experiment=open_set", "callbacks.morphospace=null", *WITHHELD], run_dir, cache_dir))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    library = export(compose_app("export", [f"ckpt={run_dir / metrics['best_checkpoint']}", "num_workers=0"],
                                 run_dir))
    return run_dir, library


@pytest.fixture
def library(trained_library) -> Path:
    """The library exported from `trained_run` (read-only)."""
    return trained_library


@pytest.fixture
def lib(withheld_run, tmp_path) -> Path:
    """A copy of `withheld_run`'s library, for a test to change."""
    import shutil

    return Path(shutil.copytree(withheld_run[1], tmp_path / "library"))


@pytest.fixture
def saved(tmp_path) -> Path:
    """`helpers.planted_library` saved with the tiny network and an image a reference."""
    import numpy as np
    from helpers import planted_library
    from PIL import Image

    from forams_lightning.library import save_library
    from forams_lightning.models.embedder import build_embedder

    images = tmp_path / "refs"
    images.mkdir()
    files = []
    for i in range(82):
        files.append(str(images / f"{i}.png"))
        Image.fromarray(np.full((8, 8, 3), i % 256, np.uint8)).save(files[-1])
    return save_library(planted_library(build_embedder(TINY_NETWORK), TINY_NETWORK, files), tmp_path / "library")


@pytest.fixture
def identified(tmp_path) -> tuple[Path, Path]:
    """(library, identify run folder): a library of 12 references of 2 species (the tiny network, its own
    embeddings), and a run folder of 12 specimens in 2 samples, two of which are near-twins (one pixel apart)."""
    import numpy as np
    from helpers import pattern
    from PIL import Image

    from forams_lightning.identify.command import identify_command
    from forams_lightning.library import ReferenceLibrary, save_library
    from forams_lightning.models.embedder import build_embedder

    refs = tmp_path / "references"
    refs.mkdir()
    files = []
    for i in range(12):
        files.append(str(refs / f"{i}.png"))
        Image.fromarray(pattern(i, i % 2)).save(files[-1])
    library = ReferenceLibrary(embedder=build_embedder(TINY_NETWORK), embedder_spec=TINY_NETWORK,
                               embeddings=np.zeros((0, 8), np.float32), labels=np.zeros(0, int), files=[],
                               species=["G. a", "G. b"], threshold=10.0,
                               preprocessing={"image_size": 32, "crop_border": None, "exif_transpose": True})
    embeddings, _, _ = library.embed(files)
    library = library.with_references(embeddings, ["G. a", "G. b"] * 6, files, [""] * 12)
    folder = save_library(library, tmp_path / "library")
    sample = tmp_path / "sample"
    for i in range(12):
        (sample / f"s{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pattern(100 + i, 2 if i < 2 else i % 2)).save(sample / f"s{i % 2}" / f"{i}.png")
    twin = np.asarray(Image.open(sample / "s0" / "0.png")).copy()
    twin[0, 0] = 255 - twin[0, 0]
    Image.fromarray(twin).save(sample / "s1" / "twin.png")
    run = tmp_path / "run"
    identify_command(compose_app("identify", [f"library={folder}", f"images={sample}", "num_workers=0",
                                              "precision=32"], run))
    return folder, run

"""Shared fixtures: the real composed Hydra config, shrunk to the tiny synthetic library on CPU."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

CONF = str(Path(__file__).resolve().parents[1] / "conf")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def rendered_page(url: str, script: str | None = None, screenshot: Path | None = None) -> str:
    """The DOM of `url` in real Chromium (the system's, driven by playwright) after its scripts and `script` ran;
    `screenshot` saves a 1200x900 view. Playwright's own timeouts fail a page that hangs in seconds (a bare
    `chromium --dump-dom` now and then never returned)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(url)
            if script:
                page.evaluate(script)
            if screenshot:
                page.screenshot(path=str(screenshot))
            return page.content()
        finally:
            browser.close()


def compose_train(overrides: list[str], tmp_path: Path, cache: Path) -> DictConfig:
    """The composed train config with the test-size settings; `overrides` as on the command line."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=["data=synthetic_tiny", "logger=none", "trainer=cpu",
                                          "callbacks.rich_progress_bar=null",
                                          "callbacks.morphospace.methods=[tsne]", *overrides], return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path)
        cfg.paths.cache_dir = str(cache)
        cfg.trainer.enable_progress_bar = False
        cfg.trainer.enable_model_summary = False
        cfg.data.num_workers = 0
        del cfg.hydra
    return cfg


def compose_app(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """The composed config of another entry point (export, identify, ...), writing into `output_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        del cfg.hydra
    return cfg


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


def shared_dataset(name: str) -> Path:
    path = SHARED / name
    if not (path / "_manifest.csv").is_file():
        pytest.skip(f"{path} not present (benchmark data lives beside the checkout only)")
    return path


TINY_NETWORK = {"backbone": {"name": "test_efficientnet", "pretrained": False},
                "head": {"embedding_dim": 8, "normalize": True}, "tta_rotations": 1}


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


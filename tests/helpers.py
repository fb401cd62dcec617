"""What the tests share besides fixtures: the real composed Hydra configs shrunk to test size, the tiny network, a page
rendered in real Chromium, the benchmark data where it is present; and a test-only Lightning callback reachable from
YAML (`+callbacks.kill._target_=helpers.KillAt`). `tests/` is on the path (pyproject's pytest `pythonpath`), so a test
anywhere imports them as `from helpers import compose_app`."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict


class KillAt(pl.Callback):
    """SIGKILL the training process at a given epoch and batch: a cluster killing a job, mid-epoch."""

    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGKILL)


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


def shared_dataset(name: str) -> Path:
    path = SHARED / name
    if not (path / "_manifest.csv").is_file():
        pytest.skip(f"{path} not present (benchmark data lives beside the checkout only)")
    return path


TINY_NETWORK = {"backbone": {"name": "test_efficientnet", "pretrained": False},
                "head": {"embedding_dim": 8, "normalize": True}, "tta_rotations": 1}



REPO = Path(__file__).resolve().parents[1]


def tiny_module(**kwargs):
    """A small LightningModule (ResNet-18, random weights, an 8-d head) for the module's own tests."""
    import functools

    import torch

    from forams_lightning.losses.combined import MetricLearningLoss
    from forams_lightning.models.backbones import Backbone
    from forams_lightning.models.heads import EmbeddingHead
    from forams_lightning.models.module import MetricLearningModule

    return MetricLearningModule(
        backbone=Backbone("resnet18", pretrained=False),
        head=functools.partial(EmbeddingHead, embedding_dim=8, normalize=True),
        loss=MetricLearningLoss(None, ce_weight=1.0), optimizer=functools.partial(torch.optim.SGD, lr=0.1),
        num_classes=3, **kwargs)


def blobs(rng, n_species=5, per=12, spread=0.05, dim=16):
    """`per` points around each of `n_species` random centres, and their species."""
    import numpy as np

    centres = rng.normal(size=(n_species, dim))
    y = np.repeat(np.arange(n_species), per)
    return centres[y] + spread * rng.normal(size=(len(y), dim)), y


def random_rows(n, d=8, seed=0):
    import numpy as np

    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def census_rows(n_samples: int, species: list[str], adjusted: bool = True) -> list[list]:
    """Census rows of `n_samples` samples of 40 random specimens."""
    import numpy as np

    from forams_lightning.identify.census import census

    rng = np.random.default_rng(1)
    samples = np.repeat([f"s{i}" for i in range(n_samples)], 40)
    prediction = rng.integers(0, len(species), len(samples))
    novel = rng.random(len(samples)) < 0.05
    confusion = np.eye(len(species), dtype=int) * 10 if adjusted else None
    return census(samples, prediction, novel, [""] * len(samples), species=species, confusion=confusion,
                  confusion_flagged=np.ones(len(species), int), order=[f"s{i}" for i in range(n_samples)])


def edit_manifest(library: Path, edit) -> None:
    """The library's manifest.json changed in place by `edit` (a tampered or damaged file)."""
    import json

    manifest = json.loads((library / "manifest.json").read_text())
    edit(manifest)
    (library / "manifest.json").write_text(json.dumps(manifest))


# --- the planted library of the label audit --------------------------------------------------------------------

PLANTED = [3, 25, 47]  # references of species 0, 1, 2 labelled as the next species


def planted_library(embedder=None, spec=None, files=None):
    """4 tight clusters of 20 references (one species each), 3 of them labelled wrong; reference 80 is the same
    image as 0 under another species, 81 the same as 1 under its own."""
    import numpy as np

    from forams_lightning.library import ReferenceLibrary

    rng = np.random.default_rng(0)
    centres = np.eye(8)[:4] * 3
    embeddings = np.vstack([centres[s] + 0.3 * rng.normal(size=(20, 8)) for s in range(4)])
    labels = np.repeat(np.arange(4), 20)
    labels[PLANTED] = (labels[PLANTED] + 1) % 4
    embeddings = np.vstack([embeddings, embeddings[:2]]).astype(np.float32)
    labels = np.concatenate([labels, [2, 0]])
    hashes = [f"{i:040x}" for i in range(80)] + [f"{0:040x}", f"{1:040x}"]
    files = files or [f"/refs/{i}.png" for i in range(82)]
    return ReferenceLibrary(embedder, spec or {}, embeddings, labels, files, ["A a", "B b", "C c", "D d"],
                            hashes=hashes, threshold=1.0,
                            preprocessing={"image_size": 32, "crop_border": None, "exif_transpose": True})


# --- the trained runs' data (conftest: `trained_run`, `withheld_run`) ----------------------------------------

def run_test_images(run: Path) -> list[tuple[str, str]]:
    """(absolute path, species) of a run's test images, from its saved config and split."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    dm = instantiate(OmegaConf.load(run / "config.yaml").data, split_file=str(run / "split.csv"), output_dir=None)
    dm.setup("test")
    return [(p, dm.species[lab]) for p, lab in zip(dm.paths("test"), dm.part_labels("test"))]


def split_parts(run_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """(path, species) of each part of a run's saved split."""
    import csv

    from omegaconf import OmegaConf

    parts: dict[str, list[tuple[str, str]]] = {}
    config = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))
    root = Path(config["data"]["root"]) / next(p.name for p in Path(config["data"]["root"]).iterdir()
                                               if p.name.startswith("synthetic-"))
    with open(run_dir / "split.csv", newline="") as f:
        for row in csv.DictReader(f):
            parts.setdefault(row["split"], []).append((str(root / row["path"]), row["species"]))
    return parts


def two_samples(withheld_run, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Two samples (sub-folders) of held-out known and withheld species' images; the true species of each file."""
    parts = split_parts(withheld_run[0])
    root, truth = tmp_path / "cores", {}
    for sample, pairs in (("core_A", parts["test"][:6] + parts["unknown_test"][::2]),
                          ("core_B", parts["test"][6:12] + parts["unknown_test"][1::2])):
        (root / sample).mkdir(parents=True)
        for i, (src, species) in enumerate(pairs):
            truth[str(root / sample / f"{i:03d}.jpg")] = species
            shutil.copy(src, root / sample / f"{i:03d}.jpg")
    return root, truth


def library_cmd(lib: Path, *overrides: str, tmp_path: Path):
    """`python -m forams_lightning.library` on `lib`, in process (its command function on the composed config)."""
    from forams_lightning.library.command import library_command

    return library_command(compose_app("library", [f"library={lib}", "num_workers=0", *overrides], tmp_path))


# --- the live review's sample (conftest: `identified`) -----------------------------------------------------

TWIN_NAME = "Novus testus"


def pattern(seed: int, species: int):
    """A 32 px image of one of 3 species (its colour channel) with seeded noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    base = np.zeros((32, 32, 3), np.uint8)
    base[..., species] = 200
    return np.clip(base + rng.integers(0, 60, base.shape), 0, 255).astype(np.uint8)


def open_sample_review(folder, run):
    from forams_lightning.review import open_review

    return open_review(run, str(folder))


def index_of(review, name: str) -> int:
    """The specimen of the review whose file is called `name`."""
    return [Path(f).name for f in review.files].index(name)


def http_status(url: str, token: str | None = None) -> int:
    """The status of a GET of `url`, with the review's token header where given."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"X-Review-Token": token} if token else {})
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code

"""One writer at a time: a change waits for the one in progress and both land."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from helpers import REPO
from PIL import Image

from forams_lightning.library.editing import add_references
from forams_lightning.library.embedding import Inference
from forams_lightning.library.lock import library_lock
from forams_lightning.library.storage import load_library, save_library


def _species_folder(folder: Path, shade: int, n: int = 3) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.full((24, 24, 3), (shade + 7 * i) % 256, np.uint8)).save(folder / f"{i}.png")
    return folder


def test_a_change_waits_for_the_one_in_progress_and_both_land(small_library, tmp_path, caplog):
    images = _species_folder(tmp_path / "new", 17)
    done = []
    with library_lock(small_library):  # another writer holds the library
        worker = threading.Thread(target=lambda: done.append(add_references(
            small_library, str(images), "G. waiting", Inference(num_workers=0))))
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive() and not done  # it waits rather than reading the library under change
        held = load_library(small_library)  # the other writer's change, made while the lock is held
        save_library(held.with_references(held.embeddings[:1], ["G. first"], ["x.png"], ["0" * 40]), small_library)
    worker.join(60)
    library = load_library(small_library)
    assert library.counts()["G. first"] == 1 and library.counts()["G. waiting"] == 3
    assert "another change of it is running; waiting" in caplog.text


def test_two_add_commands_at_once_both_keep_their_species(small_library, tmp_path):
    env = {**os.environ, "FORAMS_OFFLINE": "1"}
    commands = [subprocess.Popen(
        [sys.executable, "-m", "forams_lightning.library", "add", f"library={small_library}",
         f"images={_species_folder(tmp_path / name, shade)}", f"species={name}", "num_workers=0",
         f"hydra.run.dir={tmp_path / ('out_' + name)}"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        for name, shade in (("G_one", 11), ("G_two", 99))]
    errors = [c.communicate(timeout=180)[1] for c in commands]
    assert [c.returncode for c in commands] == [0, 0], errors
    library = load_library(small_library)
    assert library.counts()["G_one"] == 3 and library.counts()["G_two"] == 3
    assert [h["command"] for h in library.info["history"]] == ["add", "add"]

"""The Endless Forams kit fills both tables from a fake download."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import REPO

KIT = REPO / "experiments" / "endless_forams"


def test_kit_fills_both_tables_from_a_fake_download(tmp_path, cache_dir):
    sys.path.insert(0, str(KIT))
    from fake_download import SPECIES, write_fake_download

    root = write_fake_download(tmp_path / "download", scale=1000, size=40)
    assert len(SPECIES) == 35 and (root / "7- Globigerinita glutinata" / "images").is_dir()
    tiny = ("data.image_size=32 model.backbone.name=resnet18 model.backbone.input_scale=1.0 model.backbone.source=timm "
            "model.backbone.pretrained=false trainer=cpu trainer.max_epochs=1 +trainer.limit_train_batches=1 "
            "data.sampler.p=8 data.sampler.k=2 data.num_workers=0 "
            "callbacks.rich_progress_bar=null callbacks.morphospace=null +trainer.enable_progress_bar=false")
    env = {**os.environ, "FORAMS_OFFLINE": "1", "FORAMS_CACHE": str(cache_dir), "SEEDS": "0",
           "OUT": str(tmp_path / "runs"), "RESULTS": str(tmp_path), "EXTRA": tiny, "PY": sys.executable}
    done = subprocess.run(["bash", str(KIT / "run.sh"), str(root), "paper", "finetune"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    closed = (tmp_path / "results_closed.md").read_text().splitlines()
    opened = (tmp_path / "results_open.md").read_text().splitlines()
    assert [r.split("|")[1].strip() for r in closed[4:]] == ["finetune", "paper"]
    assert [r.split("|")[1].strip() for r in opened[4:]] == ["finetune", "paper"]
    assert "-" not in [c.strip() for c in opened[4].split("|")[3:9]]  # every open-set column was measured
    split = (tmp_path / "runs" / "open" / "paper" / "seed0" / "split.csv").read_text()
    assert "Beella digitata,unknown_test" in split and "Globigerinoides ruber,train" in split

"""identify on a trained library: the run's test metrics reproduced, bad files survived, missing inputs named, outputs
readable by colleagues, memory flat."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import compose_app, run_test_images
from PIL import Image

from forams_lightning.identify.command import identify_command
from forams_lightning.library.storage import load_library


def test_identify_reproduces_test_metrics_and_survives_bad_files(library, trained_run, tmp_path):
    run, metrics = trained_run
    specimens = tmp_path / "specimens"
    truth = {}
    for src, species in run_test_images(run):
        dst = specimens / "good" / f"{len(truth):04d}.jpg"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
        truth[str(dst)] = species
    bad = specimens / "bad"
    bad.mkdir()
    good_jpeg = Path(run_test_images(run)[0][0]).read_bytes()
    (bad / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 3])
    (bad / "empty.png").write_bytes(b"")
    (bad / "notes.jpg").write_text("not an image")
    Image.fromarray(np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)).save(bad / "deep.tif")
    Image.new("RGBA", (40, 30), (200, 120, 40, 128)).save(bad / "alpha.png")
    (specimens / "empty_folder").mkdir()

    out = tmp_path / "identified"
    predictions = identify_command(compose_app("identify", [f"library={library}", f"images={specimens}",
                                                            "num_workers=0", "vote=majority", "reranking.csls_k=0",
                                                            "precision=32"], out))
    with open(predictions, newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    assert len(rows) == len(truth) + 5
    for name in ("truncated.jpg", "empty.png", "notes.jpg"):
        assert rows[str(bad / name)]["error"] and not rows[str(bad / name)]["species"], name
    for name in ("deep.tif", "alpha.png"):
        assert rows[str(bad / name)]["species"] and not rows[str(bad / name)]["error"], name
    accuracy = np.mean([rows[f]["species"] == s for f, s in truth.items()])
    # same checkpoint, references, k, metric, ranking, vote and precision as the training run's test: same answers
    # (one tie flip allowed)
    assert abs(accuracy - metrics["test/knn_acc"]) <= 1 / len(truth) + 1e-9
    assert {"neighbour_5_species", "neighbour_5_distance", "novel", "vote_share"} <= set(next(iter(rows.values())))
    # the flag is the novelty score beyond the threshold of the species the specimen is identified as
    lib = load_library(library)
    threshold = dict(zip(lib.species, lib.threshold_table()))
    assert all(int(r["novel"]) == (float(r["novelty_score"]) > threshold[r["species"]])
               for r in rows.values() if not r["error"])
    assert min(threshold.values()) >= lib.threshold  # never below the pooled threshold
    page = (out / "review.html").read_text()
    assert page.count('<tr class="specimen') == len(truth) + 2 and "notes.jpg" in page
    # each row shows the novelty score its flag thresholds
    assert all(f"novelty {float(r['novelty_score']):.3f}" in page for r in rows.values() if not r["error"])


def test_run_folder_library_and_identify_output_are_readable_by_colleagues(library, trained_run, tmp_path):
    """Every file gets the mode a plain open() gives under the umask (022 in the suite, see conftest), atomic writes
    included: a colleague on the same server can read the metrics, the predictions and load the library."""
    import os

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    expected = plain.stat().st_mode & 0o777
    assert expected == 0o644
    out = tmp_path / "identified"
    identify_command(compose_app("identify", [f"library={library}",
                                              f"images={Path(run_test_images(trained_run[0])[0][0]).parent}",
                                              "num_workers=0", "review.rows_per_page=5"], out))
    files = [p for folder in (trained_run[0], library, out) for p in folder.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"metrics.json", "run.json", "config.yaml", "split.csv", "predictions.csv", "review.html",
            "references.csv", "manifest.json", "index.faiss"} <= names
    modes = {str(p): oct(p.stat().st_mode & 0o777) for p in files if p.stat().st_mode & 0o777 != expected}
    assert not modes
    folders = [library, out, *(p for folder in (trained_run[0], library, out) for p in folder.rglob("*") if p.is_dir())]
    assert all(p.stat().st_mode & 0o755 == 0o755 for p in folders), [str(p) for p in folders]
    assert os.access(library / "references.csv", os.R_OK)


def test_identify_names_missing_inputs(library, tmp_path):
    with pytest.raises(FileNotFoundError, match="no image files"):
        (tmp_path / "empty").mkdir()
        identify_command(compose_app("identify", [f"library={library}", f"images={tmp_path / 'empty'}"], tmp_path))
    with pytest.raises(FileNotFoundError, match="not a reference library"):
        identify_command(compose_app("identify", [f"library={tmp_path}", f"images={tmp_path}"], tmp_path))


@pytest.mark.slow
def test_identify_memory_stays_flat_however_large_the_sample(library, tmp_path):
    """20,000 small images take about the memory of 2,000: the sample as identified keeps a few numbers a
    specimen, predictions.csv streams from it, the embeddings go to a memory-mapped file, the novel ones are grouped
    on a tree of at most `library.grouping.MAX_TREE` and the census counts 10 samples (a real sample is 10k-500k
    specimens)."""
    import subprocess
    import sys

    runner = ("import resource, runpy, sys\n"
              "sys.argv = sys.argv[1:]\n"
              "try:\n"
              "    runpy.run_module('forams_lightning.identify', run_name='__main__')\n"
              "finally:\n"
              "    print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    rng = np.random.default_rng(0)
    peaks = {}
    for n in (2_000, 20_000):
        sample = tmp_path / f"sample_{n}"
        sample.mkdir()
        for i in range(n):
            (sample / f"core_{i % 10}").mkdir(exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(
                sample / f"core_{i % 10}" / f"{i:06d}.png")
        out = tmp_path / f"out_{n}"
        done = subprocess.run([sys.executable, "-c", runner, "identify", f"library={library}", f"images={sample}",
                               "num_workers=0", "batch_size=256", "groups=all", f"hydra.run.dir={out}"],
                              capture_output=True, text=True, check=True)
        peaks[n] = int(re.search(r"peak_kib (\d+)", done.stderr).group(1)) / 1024
        assert len((out / "predictions.csv").read_text().splitlines()) == n + 1
        assert f"{n} identified" in (out / "identify.log").read_text()
        with open(out / "census.csv", newline="") as f:
            assert sum(int(row["count"]) for row in csv.DictReader(f) if row["kind"] in ("species", "unexplained")) == n
        assert (out / "groups.csv").is_file()
    assert peaks[20_000] - peaks[2_000] < 100, peaks

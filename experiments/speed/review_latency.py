"""How fast the live review answers: from a verdict to the next specimen shown with its refreshed neighbours, and
from the command to a served page, for a sample of 1,000 specimens against a library of 10,000 references.

    python experiments/speed/review_latency.py runs/forams/library-census --references 10000 --specimens 1000

The library's network and preprocessing are the given library's; its references are its own embeddings repeated
with small noise up to --references (files that do not exist: no thumbnails are made), the sample likewise. Each
verdict goes through the real server (HTTP on 127.0.0.1): POST the verdict (the library in memory grows, every
unreviewed specimen is identified again), then GET the next specimen with its candidates, as the page does. Start-up:
`open_review` + `start_server` in this process, and the whole command (Python, torch and the package imported) to
its `review at` line; the command resumes the --verdicts verdicts the in-process review made.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch

from forams_lightning.identify import SampleEmbeddings, embedder_fingerprint
from forams_lightning.library import load_library, save_library
from forams_lightning.review import open_review, start_server


def grown_copy(source: str, n_references: int, n_specimens: int, work: Path, seed: int = 0) -> tuple[Path, Path]:
    """A library of `n_references` and a run folder of `n_specimens` kept embeddings, from `source`'s own."""
    rng = np.random.default_rng(seed)
    library = load_library(source)
    pick = rng.integers(0, len(library.files), n_references)
    noisy = library.embeddings[pick] + rng.normal(0, 0.03, (n_references, library.embeddings.shape[1]))
    big = library.subset(np.zeros(len(library.files), bool)).with_references(
        noisy.astype(np.float32), [library.species[library.labels[i]] for i in pick],
        [f"/nonexistent/reference-{i}.jpg" for i in range(n_references)], [f"{i:040x}" for i in range(n_references)])
    folder = save_library(big, work / "library")
    run = work / "run"
    run.mkdir()
    files = [f"/nonexistent/specimen-{i}.jpg" for i in range(n_specimens)]
    embeddings = library.embeddings[rng.integers(0, len(library.files), n_specimens)]
    embeddings = (embeddings + rng.normal(0, 0.05, embeddings.shape)).astype(np.float32)
    SampleEmbeddings(files, None, embeddings, str(folder), embedder_fingerprint(folder)).save(run)
    with (run / "predictions.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["file", "species", "error"], *[[p, "", ""] for p in files]])
    return folder, run


def call(url: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                     headers={"X-Review-Token": token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def measure(folder: Path, run: Path, verdicts: int) -> dict:
    start = time.perf_counter()
    review = open_review(run, str(folder))
    server, url = start_server(review, run, reviewer="benchmark")
    startup = time.perf_counter() - start
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base, token = url.split("/?token=")
    species = review.library.species
    seconds = []
    for v in range(verdicts):
        t = time.perf_counter()
        state = call(f"{base}/api/verdict", token, {"id": review.order()[0], "species": species[v % len(species)]})
        call(f"{base}/api/specimen/{state['order'][0]}", token)
        seconds.append(time.perf_counter() - t)
    server.shutdown()
    review.close()
    return {"startup_s": startup, "verdict_to_next_median_s": float(np.median(seconds)),
            "verdict_to_next_p90_s": float(np.quantile(seconds, 0.9)), "verdicts": verdicts,
            "references": len(review.base.files), "specimens": len(review.files)}


def command_startup(folder: Path, run: Path) -> float:
    """Seconds from `python -m forams_lightning.review run=... library=...` to its `review at` line."""
    import subprocess
    import sys

    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "forams_lightning.review", f"run={run}", f"library={folder}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout or ():
            if line.startswith("review at"):
                return time.perf_counter() - start
        raise RuntimeError("the review command ended without serving")
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library")
    parser.add_argument("--references", type=int, default=10_000)
    parser.add_argument("--specimens", type=int, default=1_000)
    parser.add_argument("--verdicts", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        folder, run = grown_copy(args.library, args.references, args.specimens, Path(work))
        result = measure(folder, run, args.verdicts)
        result["command_startup_s"] = command_startup(folder, run)
    result.update(machine=f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
                  date=time.strftime("%Y-%m-%d"))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

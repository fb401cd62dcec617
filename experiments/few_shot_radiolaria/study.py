"""Few-shot study: how well `identify` names a species added to a reference library from n images, no retraining.

    python experiments/few_shot_radiolaria/study.py NAME=RUN_DIR [NAME=RUN_DIR ...] [--out results.md]

RUN_DIR: a training run on the radiolaria train species and its exported library (RUN_DIR/library, written by
`python -m forams_lightning.export ckpt=RUN_DIR/checkpoints/...`). The run's own split names the test species
(`unknown_test`: never trained or selected on). For each library:
- the test species' images are embedded once, with the library's own embedder and preprocessing
  (`library.embedding.embed_files`, what `library add` and `identify` call);
- for each n and repeat, n images of each test species are drawn (seeded), added as references
  (`ReferenceLibrary.with_references`, what `library add` does) and every other image of those species is
  identified against the whole library, train species included (`ReferenceLibrary.identify` with `identify`'s
  balanced 5-NN vote; with and without query expansion and CSLS re-ranking). A species with n images or fewer is
  left out at that n;
- one draw (n = 3, repeat 0, no re-ranking) is replayed through the real commands (`library add images=CSV`, then
  `identify` on the rest): the predictions must agree (up to float near-ties), so the table is what a user of the
  commands gets.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from forams_lightning.metrics.reranking import Reranking

SHOTS = (1, 2, 3, 5)
REPEATS = 5
# (reranking.expansion_k, reranking.csls_k) of identify: none, each alone (the open-set recipe's values) and both
RERANKINGS = ((0, 0), (3, 0), (0, 20), (3, 20))


def test_species(run: Path) -> tuple[list[str], list[str]]:
    """(paths, species) of the run's unseen test species, from its saved config and split."""
    from hydra.utils import instantiate

    from forams_lightning.saved_runs import read_config_file

    dm = instantiate(read_config_file(run / "config.yaml").data, split_file=str(run / "split.csv"), output_dir=None)
    dm.setup("test")
    return dm.paths("unknown_test"), [dm.species[label] for label in dm.part_labels("unknown_test")]


def draw(species: list[str], n: int, repeat: int) -> np.ndarray:
    """Boolean mask of the images added as references: n per species with more than n images (seeded)."""
    rng = np.random.default_rng(1000 * n + repeat)
    species = np.asarray(species)
    added = np.zeros(len(species), bool)
    for name in np.unique(species):
        members = np.flatnonzero(species == name)
        if len(members) > n:
            added[rng.choice(members, n, replace=False)] = True
    return added


def scores(library, embeddings, species, added, expansion_k, csls_k) -> tuple[float, float, int, list[str]]:
    """(accuracy, macro F1, species counted, predictions) of the queries: images of species that got references,
    not themselves added."""
    species = np.asarray(species)
    counted = np.isin(species, species[added])
    grown = library.with_references(embeddings[added], list(species[added]), [""] * int(added.sum()),
                                    [""] * int(added.sum()))
    queries = counted & ~added
    found, _ = grown.identify(embeddings[queries], reranking=Reranking(expansion_k=expansion_k, csls_k=csls_k),
                              balanced=True)
    predicted = [grown.species[p] for p in found.prediction]
    truth = list(species[queries])
    return (float(np.mean(np.array(predicted) == np.array(truth))),
            float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0)),
            len(set(truth)), predicted)


def replay(library_dir: Path, paths, species, added, expected: list[str]) -> None:
    """The same draw through `library add` and `identify`; raises if any prediction differs."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copytree(library_dir, tmp / "library")
        verdicts = tmp / "added.csv"
        with open(verdicts, "w", newline="") as f:
            csv.writer(f).writerows([("file", "species"), *((p, s) for p, s, a in zip(paths, species, added) if a)])
        queries = tmp / "queries"
        queries.mkdir()
        counted = set(np.asarray(species)[added])
        names = {}
        for i, (p, s, a) in enumerate(zip(paths, species, added)):
            if s in counted and not a:
                link = queries / f"{i:05d}{Path(p).suffix}"
                link.symlink_to(Path(p).resolve())
                names[str(link)] = i
        python = [sys.executable, "-m"]
        _run([*python, "forams_lightning.library", "add", f"library={tmp / 'library'}", f"images={verdicts}",
              "precision=32", f"hydra.run.dir={tmp / 'add'}"])  # fp32 like the study: bfloat16 moves near-ties
        _run([*python, "forams_lightning.identify", f"library={tmp / 'library'}", f"images={queries}",
              "reranking.expansion_k=0", "reranking.csls_k=0", "review.enabled=false", "precision=32",
              f"hydra.run.dir={tmp / 'identify'}"])
        with open(tmp / "identify" / "predictions.csv", newline="") as f:
            got = [r["species"] for r in sorted(csv.DictReader(f), key=lambda r: names[r["file"]])]
    differ = sum(a != b for a, b in zip(got, expected))
    # embeddings computed in other batches differ in the last float bits: a near-tie may flip, nothing more
    if len(got) != len(expected) or differ > 0.01 * len(expected):
        raise SystemExit(f"{library_dir}: the commands disagree with the study on {differ} of {len(expected)} images")
    print(f"{library_dir}: library add + identify agree with the study on {len(got) - differ} of {len(got)} images",
          flush=True)


def _run(command: list[str]) -> None:
    import subprocess

    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def main(runs: dict[str, Path], out: Path) -> None:
    from forams_lightning.library import Inference, load_library

    lines = [f"Measured {date.today()} on {platform.node()} ({platform.machine()}, {os.cpu_count()} cores, CPU); "
             f"radiolaria test species (never trained or selected on): n images of each added to the library "
             f"(seeded draws, {REPEATS} repeats, mean ± std), every other image identified with `identify`'s "
             "balanced 5-NN vote against the whole library (train species included). Re-ranking: "
             "`identify reranking.expansion_k=3` (QE), `identify reranking.csls_k=20` (CSLS).", "",
             "| library | re-ranking | n | species | queries | accuracy | macro F1 |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, run in runs.items():
        library = load_library(run / "library")
        paths, species = test_species(run)
        embeddings, good, bad = library.embed(paths, Inference(64, 2, "cpu"), f"{name}: test species")
        if bad:
            raise SystemExit(f"{run}: unreadable test images {bad[:3]}")
        for expansion_k, csls_k in RERANKINGS:
            reranking = " + ".join(f"{m} {k}" for m, k in (("QE", expansion_k), ("CSLS", csls_k)) if k) or "off"
            for n in SHOTS:
                results = [scores(library, embeddings, species, draw(species, n, r), expansion_k, csls_k)
                           for r in range(REPEATS)]
                if n == 3 and not expansion_k and not csls_k:
                    replay(run / "library", paths, species, draw(species, n, 0), results[0][3])
                acc, f1 = (np.array([r[i] for r in results]) for i in (0, 1))
                lines.append(f"| {name} | {reranking} | {n} | {results[0][2]} | {len(results[0][3])} | "
                             f"{acc.mean():.3f} ± {acc.std():.3f} | {f1.mean():.3f} ± {f1.std():.3f} |")
                print(lines[-1], flush=True)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="NAME=RUN_DIR (the run folder holding its exported library/)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    main({r.split("=", 1)[0]: Path(r.split("=", 1)[1]) for r in args.runs}, args.out)

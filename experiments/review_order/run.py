"""A simulated expert: a sample replayed with its true labels, one verdict at a time in each review order, each
verdict added to the library as the live review adds it (`review.session.LiveReview`, which re-identifies the
rest), and the sample's accuracy (verdicts plus automatic identifications) after 10, 25, 50 and 100 verdicts.

    python experiments/review_order/run.py embedded LIBRARY --remove 3     # new embedded specimens, 3 species unknown
    python experiments/review_order/run.py part LIBRARY --part test        # a held-out part of the library's run

embedded: `--pool` new specimens of every species rendered past the library's images, `--remove` species (chosen
per seed) taken out of the library first, so the sample holds species it does not know. part: the run's held-out
images (for the open-set library, the test species it never saw). A sample of `--size` specimens is drawn per
seed; each order replays it against a fresh copy of the library. Prints a JSON summary (--out writes it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "census"))
from run import new_specimens, report  # noqa: E402

from forams_lightning.data.reading import read_catalogue  # noqa: E402
from forams_lightning.identify import SampleEmbeddings  # noqa: E402
from forams_lightning.library import (
    Inference,  # noqa: E402
    load_library,  # noqa: E402
)
from forams_lightning.metrics.review_order import ORDERS  # noqa: E402
from forams_lightning.review import LiveReview  # noqa: E402
from forams_lightning.saved_runs import read_run_configs  # noqa: E402

BUDGETS = (0, 10, 25, 50, 100)


def part_names(library, part: str) -> tuple[list[str], list[str]]:
    """Files of a part of the library's training run and their species names (known to the library or not)."""
    _, run_dir, run = read_run_configs(library.info["checkpoint"], library.info["run_dir"])[0]
    catalogue = read_catalogue(run.data, run_dir / "split.csv")
    return catalogue.paths(part), [catalogue.species[i] for i in catalogue.part_labels(part)]


def accuracy(review: LiveReview, truth: list[str]) -> float:
    decided = {v.specimen: v.species for v in review.verdicts()}
    names = review.library.species
    return float(np.mean([decided.get(i, names[review.identified.prediction[i]]) == t for i, t in enumerate(truth)]))


def replay(library, sample: SampleEmbeddings, truth: list[str], order: str, budgets, seed: int) -> dict:
    """Accuracy after each budget of verdicts taken in `order` (the expert always names the true species)."""
    review = LiveReview(library.subset(np.ones(len(library.files), bool)), sample, order=order, seed=seed)
    review.hashes = {i: f"s{i}" for i in review.readable}  # no file reads: every specimen is a new reference
    scores, done = {}, 0
    for budget in budgets:
        while done < min(budget, len(truth)):
            i = review.order()[0]
            review.decide(i, truth[i], "simulated expert")
            done += 1
        scores[str(budget)] = round(accuracy(review, truth), 4)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["embedded", "part"])
    parser.add_argument("library")
    parser.add_argument("--part", default="test")
    parser.add_argument("--pool", type=int, default=12)
    parser.add_argument("--remove", type=int, default=3)
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    library, start = load_library(args.library), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.what == "embedded":
            files, labels = new_specimens(library, args.pool, Path(tmp))
            names = [library.species[t] for t in labels]
        else:
            files, names = part_names(library, args.part)
        embeddings, good, _ = library.embed(files, Inference(num_workers=2), "sample")
    files, names = [files[i] for i in good], [names[i] for i in good]
    results = {order: [] for order in ORDERS}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(files), min(args.size, len(files)), replace=False))
        sample = SampleEmbeddings([files[i] for i in pick], None, embeddings[pick], args.library, "")
        truth = [names[i] for i in pick]
        base = library
        if args.what == "embedded" and args.remove:
            gone = rng.choice(len(library.species), args.remove, replace=False)
            base = library.subset(~np.isin(library.labels, gone))
        for order in ORDERS:
            results[order].append(replay(base, sample, truth, order, BUDGETS, seed))
    summary = {"library": args.library, "what": args.what, "part": args.part, "size": args.size,
               "seeds": args.seeds, "remove": args.remove if args.what == "embedded" else 0,
               "accuracy": {order: {b: round(float(np.mean([r[b] for r in runs])), 4) for b in runs[0]}
                            for order, runs in results.items()},
               "per_seed": results, "seconds": round(time.perf_counter() - start, 1)}
    report(summary, args.out)


if __name__ == "__main__":
    main()

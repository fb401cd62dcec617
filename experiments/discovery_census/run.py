"""Discovery and census, measured with the tool's own functions on a library and the run it was exported from.

    python experiments/discovery_census/run.py discovery LIBRARY [--part unknown_test]
    python experiments/discovery_census/run.py census LIBRARY [--part test] [--samples 10] [--size 300]
        [--species-per-sample 0] [--seed 0]

discovery: every image of `--part` (species the library has never seen) identified as `identify` does; the share
flagged novel; the groups of the flagged images (`groups=novel`) and of every image (`groups=all`) against the true
species: their number, NMI, ARI, and the share of images in a pure group (one species).

census: `--samples` simulated samples of `--size` specimens drawn from the held-out images of `--part` (species the
library knows; not the images its threshold and confusion were counted on), proportions from a flat Dirichlet over
the species (or over `--species-per-sample` species drawn per sample), images drawn with replacement within a
species. The truth is the drawn proportions; raw and adjusted shares are among the specimens identified as a known
species (`reference.census.sample_census`); the intervals' coverage of the truth is counted per species × sample.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from forams_lightning.reference.build import run_part
from forams_lightning.reference.census import sample_census, square_confusion
from forams_lightning.reference.embedding import Inference
from forams_lightning.reference.novel_groups import group_specimens
from forams_lightning.reference.storage import load_library


def held_out(library, part: str, inference: Inference):
    """(embeddings, true labels as library species indices, files) of a part of the library's training run."""
    files, labels = run_part(library, part)
    embeddings, good, _ = library.embed(files, inference, part)
    return embeddings, labels[good], [files[i] for i in good]


def group_scores(truth: np.ndarray, groups: np.ndarray) -> dict:
    purity = {g: len(np.unique(truth[groups == g])) == 1 for g in np.unique(groups)}
    pure, in_pure = sum(purity.values()), np.mean([purity[g] for g in groups])
    return {"groups": int(len(np.unique(groups))), "species": int(len(np.unique(truth))), "pure_groups": int(pure),
            "nmi": float(normalized_mutual_info_score(truth, groups)),
            "ari": float(adjusted_rand_score(truth, groups)), "share_in_pure_group": float(in_pure)}


def discovery(library, part: str, inference: Inference) -> dict:
    embeddings, truth, _ = held_out(library, part, inference)
    start = time.perf_counter()
    novel = library.novelty_scores(embeddings) > library.threshold
    flagged = group_specimens(embeddings[novel], np.flatnonzero(novel), library)
    everything = group_specimens(embeddings, np.arange(len(embeddings)), library)
    ids = lambda g: np.array([int(name[1:]) for name in g.names])  # noqa: E731
    return {"part": part, "images": int(len(truth)), "share_flagged_novel": float(novel.mean()),
            "grouping": library.grouping.state(), "flagged": group_scores(truth[novel], ids(flagged)),
            "all": group_scores(truth, ids(everything)), "grouping_seconds": time.perf_counter() - start}


def simulate(library, embeddings: np.ndarray, truth: np.ndarray, samples: int, size: int, per_sample: int,
             seed: int) -> dict:
    found, score = library.identify(embeddings, reranking=library.default_reranking())
    prediction, novel = found.prediction, score > library.threshold
    rng, species = np.random.default_rng(seed), np.unique(truth)
    confusion = square_confusion(library.confusion, len(library.species))
    errors, covered = {"raw": [], "adjusted": []}, {"raw": [], "adjusted": []}
    for _ in range(samples):
        chosen = rng.choice(species, per_sample, replace=False) if per_sample else species
        p = rng.dirichlet(np.ones(len(chosen)))
        drawn = np.concatenate([rng.choice(np.flatnonzero(truth == s), n) for s, n in
                                zip(chosen, rng.multinomial(size, p)) if n])
        rows = {r[1]: r for r in sample_census(prediction[drawn], novel[drawn], [""] * len(drawn), library.species,
                                               confusion, seed) if r[0] == "species"}
        known = max(1e-12, sum(r[3] for r in rows.values()))  # the share identified as a known species
        true = dict(zip((library.species[s] for s in chosen), p))
        for name in set(true) | {name for name, r in rows.items() if r[2]}:  # present or counted
            t, r = true.get(name, 0.0), rows.get(name)
            values = {"raw": (r[3], r[4], r[5]) if r else (0, 0, 0), "adjusted": (r[6], r[7], r[8]) if r else (0, 0, 0)}
            for kind, (v, lo, hi) in values.items():
                errors[kind].append(abs(v / known - t))
                covered[kind].append(lo / known <= t <= hi / known)
    return {"images": int(len(truth)), "species": int(len(species)), "samples": samples,
            "size": size, "species_per_sample": per_sample or int(len(species)),
            "share_flagged_novel": float(novel.mean()),
            "mae": {k: float(np.mean(v)) for k, v in errors.items()},
            "coverage_95": {k: float(np.mean(v)) for k, v in covered.items()}, "cells": len(errors["raw"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["discovery", "census"])
    parser.add_argument("library")
    parser.add_argument("--part")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--species-per-sample", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="32")
    args = parser.parse_args()
    library, inference = load_library(args.library), Inference(num_workers=2, precision=args.precision)
    if args.what == "discovery":
        result = discovery(library, args.part or "unknown_test", inference)
    else:
        embeddings, truth, _ = held_out(library, args.part or "test", inference)
        result = {"part": args.part or "test", **simulate(library, embeddings, truth, args.samples, args.size,
                                                          args.species_per_sample, args.seed)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Discovery, measured with the tool's own functions on a library and the run it was exported from (the census is
measured in experiments/census).

    python experiments/discovery_census/run.py discovery LIBRARY [--part unknown_test]

discovery: every image of `--part` (species the library has never seen) identified as `identify` does; the share
flagged novel; the groups of the flagged images (`groups=novel`) and of every image (`groups=all`) against the true
species: their number, NMI, ARI, and the share of images in a pure group (one species).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from forams_lightning.identify import candidate_groups
from forams_lightning.library import Inference, load_library, run_part


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
    found, score = library.identify(embeddings, reranking=library.default_reranking())
    novel = library.is_novel(score, found.prediction)
    flagged = candidate_groups(embeddings[novel], np.flatnonzero(novel), library)
    everything = candidate_groups(embeddings, np.arange(len(embeddings)), library)
    return {"part": part, "images": int(len(truth)), "share_flagged_novel": float(novel.mean()),
            "grouping": library.grouping.state(),
            "flagged": group_scores(truth[novel], group_of(flagged, np.flatnonzero(novel))),
            "all": group_scores(truth, group_of(everything, np.arange(len(embeddings)))),
            "grouping_seconds": time.perf_counter() - start}


def group_of(groups: list, rows: np.ndarray) -> np.ndarray:
    """The group number of each of `rows` (candidate groups, largest first)."""
    number = {int(m): g for g, group in enumerate(groups) for m in group.members}
    return np.array([number[int(r)] for r in rows], dtype=int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["discovery"])
    parser.add_argument("library")
    parser.add_argument("--part")
    parser.add_argument("--precision", default="32")
    args = parser.parse_args()
    library, inference = load_library(args.library), Inference(num_workers=2, precision=args.precision)
    result = discovery(library, args.part or "unknown_test", inference)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""What bfloat16 inference changes in identify: a library's held-out images (a part of its training run's split)
embedded in fp32 and with bf16 autocast, identified against the same references.

    python experiments/speed/precision_agreement.py LIBRARY [--part test]

Reports the share of identical votes, the accuracy of each, the novelty flags that differ and the smallest cosine
similarity between an image's two embeddings.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from forams_lightning.library import Inference, load_library, run_part


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("library")
    parser.add_argument("--part", default="test")
    args = parser.parse_args()
    library = load_library(args.library)
    files, truth = run_part(library, args.part)
    found = {}
    for precision in ("32", "bf16"):
        embeddings, good, _ = library.embed(files, Inference(num_workers=2, precision=precision), precision)
        votes, score = library.identify(embeddings, reranking=library.default_reranking())
        found[precision] = (embeddings, votes.prediction, library.is_novel(score, votes.prediction))
    truth = truth[good]  # the same readable files in both passes
    (e32, p32, n32), (e16, p16, n16) = found["32"], found["bf16"]
    cosine = np.sum(e32 * e16, 1) / np.linalg.norm(e32, axis=1) / np.linalg.norm(e16, axis=1)
    print(json.dumps({"part": args.part, "images": len(files), "votes_identical": float(np.mean(p32 == p16)),
                      "accuracy_fp32": float(np.mean(p32 == truth)), "accuracy_bf16": float(np.mean(p16 == truth)),
                      "novel_flags_differing": int(np.sum(n32 != n16)), "min_cosine": float(cosine.min())}, indent=2))


if __name__ == "__main__":
    main()

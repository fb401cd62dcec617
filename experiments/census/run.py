"""How far a census can be trusted: simulated samples of specimens no split has seen, counted by the package's own
census (`identify.census.sample_census`), against the shares they were drawn with.

    python experiments/census/run.py embedded LIBRARY [--pool 150]     # new specimens of the embedded species
    python experiments/census/run.py part LIBRARY --part test          # a held-out split of the library's run

embedded: the generator draws image j of species s from its own seed, so images far past the library's indices
(from `FIRST_NEW`) are new specimens of its species; `--pool` of each are rendered, identified once, and samples are
drawn from them. part: the held-out images of a split the library was not calibrated on (radiolaria, micro-CT).
Samples of `--sizes` specimens, a random subset of `--species` species each, proportions from a flat Dirichlet,
`--samples` per size and seed. Prints a JSON summary (and writes it with --out)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring import flag_rates, score_samples  # noqa: E402

from forams_lightning.library import (
    Inference,  # noqa: E402
    load_library,  # noqa: E402
    run_part,  # noqa: E402
)

FIRST_NEW = 100_000  # image indices from here on are past any library the generator writes


def new_specimens(library, pool: int, folder: Path) -> tuple[list[str], np.ndarray]:
    """`pool` new images of every species of the embedded library, rendered into `folder`."""
    from forams_lightning.data.synthetic import SyntheticSpec, render, species_catalogue

    spec = SyntheticSpec()
    files, truth = [], []
    for s, (name, morph) in enumerate(species_catalogue(spec)):
        for j in range(FIRST_NEW, FIRST_NEW + pool):
            path = folder / f"{s:02d}_{j}.jpg"
            render(morph, np.random.default_rng([spec.seed, s, j]), spec.image_size, spec.difficulty).save(
                path, quality=92)
            files.append(str(path))
            truth.append(library.species.index(name))
    return files, np.array(truth)


def identified(library, files: list[str], truth: np.ndarray) -> dict:
    """Each readable file's vote, flag (per-species thresholds) and flag under the pooled threshold."""
    embeddings, good, _ = library.embed(files, Inference(num_workers=2), "specimens")
    found, score = library.identify(embeddings, reranking=library.default_reranking())
    return {"truth": truth[good], "prediction": found.prediction, "novel": library.is_novel(score, found.prediction),
            "pooled_novel": score > library.threshold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["embedded", "part"])
    parser.add_argument("library")
    parser.add_argument("--part", default="test")
    parser.add_argument("--pool", type=int, default=150)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--species", type=int, default=12)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    library = load_library(args.library)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        files, truth = new_specimens(library, args.pool, Path(tmp)) if args.what == "embedded" else \
            run_part(library, args.part)
        specimens = identified(library, files, truth)
    references = np.array(list(library.counts().values()))
    summary = {"library": args.library, "what": args.what, "specimens": int(len(specimens["truth"])),
               "flags": {"per_species": flag_rates(specimens["truth"], specimens["novel"], references, library.species),
                         "pooled": flag_rates(specimens["truth"], specimens["pooled_novel"], references,
                                              library.species)},
               "samples": {str(size): score_samples(library, specimens, size, args.species, args.samples, args.seeds)
                           for size in args.sizes},
               "seconds": round(time.perf_counter() - start, 1)}
    report(summary, args.out)


def report(summary: dict, out: str | None) -> None:
    """The study's summary printed as JSON, and written to `out` where given."""
    text = json.dumps(summary, indent=1)
    print(text)
    if out:
        Path(out).write_text(text + "\n")


if __name__ == "__main__":
    main()

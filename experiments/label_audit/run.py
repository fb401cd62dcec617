"""Does the audit find wrong labels, and does accepting its suggestions repair the library? The embedded library with
a share of its images moved to a wrong species folder, trained and exported as a user would (`data=folders`,
`+experiment=closed_set`), audited (`library.audit`); and the same from clean folders.

    python experiments/label_audit/run.py --work runs/label_audit --moved 0.05

Reports: among the top N rows of the audit (N = the moved images that became references), precision and recall of
the moved ones; accuracy on new specimens of every species (rendered past the library's images, true labels) of the
clean library, the noisy one and the noisy one with the top N suggestions accepted (relabelled as the audit says,
through `library relabel`'s function). Trains twice: ~15 min on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "census"))
from run import new_specimens  # noqa: E402

from forams_lightning.data.synthetic import SyntheticSpec, generate_library  # noqa: E402
from forams_lightning.library import (
    Inference,  # noqa: E402
    audit_library,  # noqa: E402
    load_library,  # noqa: E402
    relabel_references,  # noqa: E402
)


def folders(source: Path, target: Path, moved: float, seed: int) -> dict[str, tuple[str, str]]:
    """A copy of the species folders (hard links) with `moved` of the images in another species' folder; returns
    {copied file: (true species folder, folder it is in)} of the moved ones."""
    rng = np.random.default_rng(seed)
    species = sorted(p.name for p in source.iterdir() if p.is_dir())
    wrong = {}
    for name in species:
        for image in sorted((source / name).rglob("*.jpg")):
            into = name
            if rng.random() < moved:
                into = rng.choice([s for s in species if s != name])
            target_file = target / into / f"{name[:2]}_{image.name}"
            target_file.parent.mkdir(parents=True, exist_ok=True)
            os.link(image, target_file)
            if into != name:
                wrong[str(target_file.resolve())] = (name, into)
    return wrong


def species_name(folder: str) -> str:
    """A species folder's name as the library calls the species (an ordinal prefix such as "3 - " dropped)."""
    return re.sub(r"^\d{1,3} - ", "", folder)


def train_and_export(root: Path, run: Path, recipe: str = "closed_set") -> Path:
    if not (run / "library" / "manifest.json").is_file():
        python = sys.executable
        subprocess.run([python, "-m", "forams_lightning.train", f"+experiment={recipe}", "data=folders",
                        f"data.root={root}", "data.open_set.folds=null", f"hydra.run.dir={run}", "logger=csv"],
                       check=True)
        subprocess.run([python, "-m", "forams_lightning.export", f"ckpt={run}", f"out={run / 'library'}"],
                       check=True)
    return run / "library"


def accuracy(library, embeddings: np.ndarray, truth: list[str]) -> float:
    found, _ = library.identify(embeddings, reranking=library.default_reranking())
    return float(np.mean([library.species[p] == t for p, t in zip(found.prediction, truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="runs/label_audit")
    parser.add_argument("--moved", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--new", type=int, default=20, help="new specimens of each species to measure accuracy on")
    parser.add_argument("--recipe", default="closed_set", help="the experiment both libraries are trained with")
    args = parser.parse_args()
    work, start = Path(args.work).resolve(), time.perf_counter()
    cache = Path(os.environ.get("FORAMS_CACHE", Path.home() / ".cache" / "forams_lightning"))
    source = generate_library(cache / f"synthetic-{SyntheticSpec().digest()}", SyntheticSpec())  # data=synthetic's
    if not (work / "noisy_folders").is_dir():
        folders(source, work / "clean_folders", 0.0, args.seed)
        wrong = folders(source, work / "noisy_folders", args.moved, args.seed)
        (work / "moved.json").write_text(json.dumps(wrong, indent=1))
    wrong = json.loads((work / "moved.json").read_text())
    suffix = "" if args.recipe == "closed_set" else f"_{args.recipe}"
    clean = load_library(train_and_export(work / "clean_folders", work / f"clean{suffix}", args.recipe))
    noisy_folder = train_and_export(work / "noisy_folders", work / f"noisy{suffix}", args.recipe)
    repaired_folder = noisy_folder.with_name("library-repaired")
    shutil.rmtree(repaired_folder, ignore_errors=True)
    shutil.copytree(noisy_folder, repaired_folder)
    noisy = load_library(repaired_folder)
    rows = [r for r in audit_library(noisy) if r.reason == "vote"]
    planted = {f for f in noisy.files if f in wrong}
    top = rows[:len(planted)]
    found = {r.file for r in top} & planted
    for row in top:
        relabel_references(repaired_folder, files=[row.file], species=row.suggested_species)
    repaired = load_library(repaired_folder)
    with tempfile.TemporaryDirectory() as tmp:
        files, labels = new_specimens(clean, args.new, Path(tmp))
        truth = [clean.species[t] for t in labels]
        embedded = {name: lib.embed(files, Inference(num_workers=2), name)[0]
                    for name, lib in (("clean", clean), ("noisy", noisy), ("repaired", repaired))}
    result = {"recipe": args.recipe, "moved_share": args.moved, "moved_images": len(wrong),
              "moved_references": len(planted),
              "suspects": len(rows), "top_n": len(top),
              "precision_at_n": round(len(found) / max(len(top), 1), 3),
              "recall_at_n": round(len(found) / max(len(planted), 1), 3),
              "right_suggestion": round(float(np.mean([row.suggested_species == species_name(wrong[row.file][0])
                                                       for row in top if row.file in wrong] or [0])), 3),
              "accuracy_new_specimens": {name: round(accuracy(lib, embedded[name], truth), 4)
                                         for name, lib in (("clean", clean), ("noisy", noisy),
                                                           ("repaired", repaired))},
              "new_specimens": len(truth), "seconds": round(time.perf_counter() - start)}
    print(json.dumps(result, indent=1))
    (work / f"result{suffix}.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

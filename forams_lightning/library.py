"""Grow and correct a reference library without retraining: new species from a few images, an expert's verdicts.

    python -m forams_lightning.library show library=DIR
    python -m forams_lightning.library add library=DIR images=DIR                # one sub-folder per species
    python -m forams_lightning.library add library=DIR images=verdicts.csv       # columns file, species (review.html)
    python -m forams_lightning.library add library=DIR images=DIR species="Genus species"
    python -m forams_lightning.library remove library=DIR species=NAME           # or files=[a.jpg,b.jpg]
    python -m forams_lightning.library relabel library=DIR files=[a.jpg] species=NAME   # or images=CSV
    python -m forams_lightning.library calibrate library=DIR images=DIR         # labelled images of known species
    python -m forams_lightning.library audit library=DIR                        # suspect labels -> audit.csv

What each command does: `reference.editing` (the same functions, for scripts).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, ListConfig

from forams_lightning.cli import answer_version, entry_point

COMMANDS = ("show", "add", "remove", "relabel", "calibrate", "audit")


def run(cfg: DictConfig):
    """Runs `cfg.command`; returns the changed library (or the shown one)."""
    from forams_lightning.reference import editing
    from forams_lightning.reference.audit import audit_report
    from forams_lightning.reference.describe import describe
    from forams_lightning.reference.embedding import Inference
    from forams_lightning.reference.storage import load_library

    if cfg.command not in COMMANDS:
        raise ValueError(f"command={cfg.command!r}: one of {', '.join(COMMANDS)}")
    if cfg.command in ("show", "audit"):
        library = load_library(cfg.library)
        print(describe(library) if cfg.command == "show" else audit_report(library, cfg.paths.output_dir))
        return library
    inference = Inference(cfg.batch_size, cfg.num_workers, cfg.device, str(cfg.precision))
    files = _as_list(cfg.files)
    changes = {
        "add": lambda: editing.add_references(cfg.library, cfg.images, cfg.species, inference),
        "remove": lambda: editing.remove_references(cfg.library, cfg.species, files),
        "relabel": lambda: editing.relabel_references(cfg.library, files, cfg.species, cfg.images),
        "calibrate": lambda: editing.recalibrate(cfg.library, cfg.images, cfg.species, cfg.keep_known, inference),
    }
    return changes[cfg.command]()[0]


def _as_list(files) -> list[str] | None:
    if files is None:
        return None
    return [str(f) for f in files] if isinstance(files, (list, tuple, ListConfig)) else [str(files)]


@hydra.main(version_base="1.3", config_path="../conf", config_name="library")
@entry_point
def main(cfg: DictConfig) -> None:
    run(cfg)


def _command_word(argv: list[str]) -> None:
    """`library add ...` reads as `library command=add ...`; a first word that is no command is one line."""
    if len(argv) > 1 and argv[1] in COMMANDS:
        argv[1] = f"command={argv[1]}"
    elif len(argv) > 1 and "=" not in argv[1] and not argv[1].startswith("-"):
        print(f"error: {argv[1]!r} is not a library command: one of {', '.join(COMMANDS)} (--help shows the usage)",
              file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    answer_version()
    _command_word(sys.argv)
    main()

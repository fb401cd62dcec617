"""Grow and correct a reference library without retraining: new species from a few images, an expert's verdicts.

    python -m forams_lightning.library show library=DIR
    python -m forams_lightning.library add library=DIR images=DIR                # one sub-folder per species
    python -m forams_lightning.library add library=DIR images=verdicts.csv       # columns file, species
    python -m forams_lightning.library add library=DIR images=DIR species="Genus species"
    python -m forams_lightning.library remove library=DIR species=NAME           # or files=[a.jpg,b.jpg]
    python -m forams_lightning.library relabel library=DIR files=[a.jpg] species=NAME   # or images=CSV
    python -m forams_lightning.library calibrate library=DIR images=DIR         # labelled images of known species
    python -m forams_lightning.library audit library=DIR                        # suspect labels -> audit.csv

The command: `library.command.library_command`; what each one does: the `forams_lightning.library` API.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from forams_lightning.cli import answer_version, entry_point
from forams_lightning.library.command import command_word, library_command


@hydra.main(version_base="1.3", config_path="../../conf", config_name="library")
@entry_point
def main(cfg: DictConfig) -> None:
    library_command(cfg)


if __name__ == "__main__":
    answer_version()
    command_word(sys.argv)
    main()

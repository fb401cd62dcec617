"""Identify new specimens against a reference library: predictions.csv, groups.csv (candidate new species),
census.csv/.png (where the images come as samples), review.html and the sample's embeddings in the run folder.

    python -m forams_lightning.identify library=DIR images=FOLDER_OR_GLOB_OR_CSV

The command: `identify.command.identify_command`; what it does: `identify.identify_sample` (the same for scripts).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from forams_lightning.cli import answer_version, entry_point
from forams_lightning.identify.command import identify_command


@hydra.main(version_base="1.3", config_path="../../conf", config_name="identify")
@entry_point
def main(cfg: DictConfig) -> None:
    identify_command(cfg)


if __name__ == "__main__":
    answer_version()
    main()

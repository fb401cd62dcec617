"""The live review of an identified sample: a local web page, keyboard first, where every verdict becomes a reference
at once and re-identifies the specimens not yet reviewed.

    python -m forams_lightning.review run=DIR                                 # an identify run folder
    python -m forams_lightning.review library=DIR images=FOLDER run=DIR        # identify first, then review
    python -m forams_lightning.review audit=true library=DIR                   # the library's suspect labels

It prints one line, `review at http://127.0.0.1:PORT/?token=...`, and serves until Ctrl-C. The command:
`review.command.review_command`; what it does: `review.open_review` and `review.web.start_server` (the same for
scripts), over `review.session.LiveReview`.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from forams_lightning.cli import answer_version, entry_point
from forams_lightning.review.command import review_command


@hydra.main(version_base="1.3", config_path="../../conf", config_name="review")
@entry_point
def main(cfg: DictConfig) -> None:
    review_command(cfg)


if __name__ == "__main__":
    answer_version()
    main()

"""What `python -m forams_lightning.library COMMAND ...` does with its config: one plain call of the library's own
functions (`library.editing`, `library.audit`, `library.description`), which a script calls the same way."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from omegaconf import DictConfig, ListConfig

if TYPE_CHECKING:
    from forams_lightning.library.embedding import Inference
    from forams_lightning.library.reference_library import ReferenceLibrary

COMMANDS = ("show", "add", "remove", "relabel", "calibrate", "audit")


def library_command(cfg: DictConfig) -> ReferenceLibrary:
    """Runs `cfg.command`; returns the changed library (or the shown one)."""
    from forams_lightning.library.audit import audit_report
    from forams_lightning.library.description import describe
    from forams_lightning.library.editing import add_references, recalibrate, relabel_references, remove_references
    from forams_lightning.library.storage import load_library

    if cfg.command not in COMMANDS:
        raise ValueError(f"command={cfg.command!r}: one of {', '.join(COMMANDS)}")
    if cfg.command in ("show", "audit"):
        library = load_library(cfg.library)
        print(describe(library) if cfg.command == "show" else audit_report(library, cfg.paths.output_dir))
        return library
    inference = inference_settings(cfg)
    files = _as_list(cfg.files)
    changes = {
        "add": lambda: add_references(cfg.library, cfg.images, cfg.species, inference=inference),
        "remove": lambda: remove_references(cfg.library, cfg.species, files),
        "relabel": lambda: relabel_references(cfg.library, files, cfg.species, cfg.images),
        "calibrate": lambda: recalibrate(cfg.library, cfg.images, cfg.species, keep_known=cfg.keep_known,
                                         inference=inference),
    }
    return changes[cfg.command]()[0]


def inference_settings(cfg: DictConfig) -> Inference:
    """How files are embedded, as every command's config gives it (batch_size, num_workers, device, precision)."""
    from forams_lightning.library.embedding import Inference

    return Inference(cfg.batch_size, cfg.num_workers, cfg.device, str(cfg.precision))


def _as_list(files: object) -> list[str] | None:
    if files is None:
        return None
    return [str(f) for f in files] if isinstance(files, (list, tuple, ListConfig)) else [str(files)]


def command_word(argv: list[str]) -> None:
    """`library add ...` reads as `library command=add ...`; a first word that is no command is one line."""
    if len(argv) > 1 and argv[1] in COMMANDS:
        argv[1] = f"command={argv[1]}"
    elif len(argv) > 1 and "=" not in argv[1] and not argv[1].startswith("-"):
        print(f"error: {argv[1]!r} is not a library command: one of {', '.join(COMMANDS)} (--help shows the usage)",
              file=sys.stderr)
        raise SystemExit(1)

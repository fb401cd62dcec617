"""What a user sees: log lines that reach the run's log file but not a terminal's progress bar, and the silencing of
the stack's messages that tell a user nothing."""

from __future__ import annotations

import logging
import sys
import warnings


def log_to_files(logger: logging.Logger, level: int, message: str) -> None:
    """Hand `message` to the file handlers of the root logger only (Hydra's `<task>.log` in the run folder)."""
    record = logger.makeRecord(logger.name, level, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def log_progress(logger: logging.Logger, message: str) -> None:
    """Progress lines: everywhere where stdout is not a terminal (nohup, SLURM, CI), only into the log file where it
    is (the progress bar is there, and a log line would garble it)."""
    if sys.stdout.isatty():
        log_to_files(logger, logging.INFO, message)
    else:
        logger.info(message)


def quiet_stack() -> None:
    """Silence what the stack prints that tells a user nothing: faiss's list of SIMD variants it failed to load,
    Lightning's litlogger advertisement, a deprecation inside Lightning's own `_pytree` helper and UMAP's note
    that a seed makes it single-threaded."""
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_drop_advertisements)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message=r"n_jobs value .* overridden")  # UMAP, seeded on purpose


def _drop_advertisements(record: logging.LogRecord) -> bool:
    return "litlogger" not in record.getMessage()

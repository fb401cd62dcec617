"""What a user sees: log lines that reach the run's log file but not a terminal's progress bar, and the silencing of
the stack's messages that tell a user nothing."""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def log_to_files(logger: logging.Logger, level: int, message: str) -> None:
    """Hand `message` to the file handlers of the root logger only (Hydra's `<task>.log` in the run folder)."""
    record = logger.makeRecord(logger.name, level, __file__, 0, message, (), None)
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


@contextmanager
def progress(description: str, total: int, every_s: float = 10.0) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`. A bar where stdout is a terminal; a line every `every_s` seconds (done / total, items/s,
    time left) that goes to the log file always and to stdout where it is not a terminal (`log_progress`); a final
    line with the total time and rate."""
    from rich.progress import Progress

    log = logging.getLogger("forams_lightning.progress")
    start = last = time.perf_counter()
    done = 0
    with Progress(transient=True, disable=not sys.stdout.isatty()) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int) -> None:
            nonlocal done, last
            done += n
            bar.advance(task, n)
            now = time.perf_counter()
            if now - last >= every_s and done < total:
                last = now
                rate = done / (now - start)
                log_progress(log, f"{description}: {done:,} / {total:,} ({rate:.0f}/s, ~{(total - done) / rate:.0f} s "
                                  "left)")

        yield advance
    seconds = time.perf_counter() - start
    log_progress(log, f"{description}: {done:,} in {seconds:.1f} s ({done / max(seconds, 1e-9):.0f}/s)")


def quiet_stack() -> None:
    """Silence what the stack prints that tells a user nothing: faiss's list of SIMD variants it failed to load,
    Lightning's litlogger advertisement, a deprecation inside Lightning's own `_pytree` helper, UMAP's note
    that a seed makes it single-threaded and Lightning's note that a frozen-feature run has no optimiser."""
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_drop_advertisements)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message=r"n_jobs value .* overridden")  # UMAP, seeded on purpose
    # a run of frozen features (nothing trainable, max_epochs=0) has no optimiser on purpose
    warnings.filterwarnings("ignore", message=r".*configure_optimizers` returned `None`")


def _drop_advertisements(record: logging.LogRecord) -> bool:
    return "litlogger" not in record.getMessage()

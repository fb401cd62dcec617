"""How every entry point behaves for a user: the stack's noise silenced, a user error ended by one line, and a
refused command leaves no run folder behind."""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback

from forams_lightning.console import log_to_files, quiet_stack
from forams_lightning.errors import user_error_message

log = logging.getLogger(__name__)
COMMANDS = ("train", "eval", "export", "identify", "review", "library", "morphospace")


def version() -> str:
    """The installed package's version (its metadata: one number for the package, its run folders and libraries)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("forams-lightning")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def answer_version(argv: list[str] | None = None) -> None:
    """`--version` on any command prints the package's version and exits 0, before Hydra reads the arguments."""
    if "--version" in (sys.argv if argv is None else argv)[1:]:
        print(f"forams-lightning {version()}")
        raise SystemExit(0)


def entry_point(main):
    """Wraps a Hydra task function (under ``@hydra.main``). A value the command requires and was not given, or a
    user error (`errors.user_error_message`), prints ``error: <message>`` on stderr, goes into the run's log file and
    exits with status 1; a run folder that holds nothing but Hydra's own files is removed. ``HYDRA_FULL_ERROR=1``
    keeps the traceback, and in a multirun the error goes to the launcher, which reports the failing job."""

    @functools.wraps(main)
    def wrapper(cfg):
        quiet_stack()
        try:
            check_required(cfg)
            return main(cfg)
        except Exception as err:
            message = user_error_message(err)
            if message is None or os.environ.get("HYDRA_FULL_ERROR") == "1" or _multirun():
                raise
            log_to_files(log, logging.ERROR, message)
            print(f"error: {message}", file=sys.stderr)
            _remove_empty_run_folder(cfg)
            raise SystemExit(1) from None

    return wrapper


def check_required(cfg) -> None:
    """One line naming every required value (``???`` in the config) the command was not given."""
    from omegaconf import OmegaConf

    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ValueError(f"required: {', '.join(f'{key}=...' for key in missing)} (--help shows the usage)")


def _remove_empty_run_folder(cfg) -> None:
    """A command refused before it wrote anything leaves no folder: the run folder goes where it holds only
    Hydra's files (.hydra/, the log), and so do the folders above it that it leaves empty."""
    import shutil

    try:
        folder = Path(cfg.paths.output_dir).resolve()
    except Exception:  # noqa: BLE001 - no run folder to speak of
        return
    if not folder.is_dir() or any(p.name != ".hydra" and p.suffix != ".log" for p in folder.iterdir()):
        return
    shutil.rmtree(folder, ignore_errors=True)
    stop = Path.cwd().resolve()
    for parent in folder.parents:
        if parent == stop or not parent.is_relative_to(stop):
            break
        try:
            parent.rmdir()  # only an empty folder
        except OSError:
            break


class RunFolderCheck(Callback):
    """A Hydra callback (`conf/hydra/default.yaml`): before Hydra makes the run folder, one that cannot be made or
    written ends the command with one line (Hydra itself would stop with a traceback)."""

    def on_run_start(self, config, **_) -> None:
        from forams_lightning.runs import probe_writable

        folder = Path(str(config.hydra.run.dir))
        try:
            probe_writable(folder)
        except OSError as error:
            print(f"error: hydra.run.dir={folder}: the run folder cannot be made or written "
                  f"({error.strerror or error}); choose another", file=sys.stderr)
            raise SystemExit(1) from None


def _multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN

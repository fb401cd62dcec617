"""How every entry point behaves for a user: the stack's noise silenced, a user error ended by one line."""

from __future__ import annotations

import functools
import logging
import os
import sys

from forams_lightning.console import log_to_files, quiet_stack
from forams_lightning.errors import user_error_message

log = logging.getLogger(__name__)


def entry_point(main):
    """Wraps a Hydra task function (under ``@hydra.main``). A user error (`errors.user_error_message`) prints
    ``error: <message>`` on stderr, goes into the run's log file and exits with status 1; ``HYDRA_FULL_ERROR=1``
    keeps the traceback, and in a multirun the error goes to the launcher, which reports the failing job."""

    @functools.wraps(main)
    def wrapper(cfg):
        quiet_stack()
        try:
            return main(cfg)
        except Exception as err:
            message = user_error_message(err)
            if message is None or os.environ.get("HYDRA_FULL_ERROR") == "1" or _multirun():
                raise
            log_to_files(log, logging.ERROR, message)
            print(f"error: {message}", file=sys.stderr)
            raise SystemExit(1) from None

    return wrapper


def _multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN

"""Which errors are the user's: they end an entry point with one line, not a traceback (`cli.entry_point`).

An error this package raises on purpose (a `ValueError`, `OSError` or `RuntimeError` whose raising frame is in
`forams_lightning`, also when Hydra's `instantiate` wraps it) names the key or file at fault; its traceback would only
hide that line. Anything else is a defect and keeps its traceback, and ``HYDRA_FULL_ERROR=1`` shows it for every
error. In a multirun the error goes to the launcher, which reports the failing job.
"""

from __future__ import annotations

import re
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_USER_ERRORS = (ValueError, OSError, RuntimeError)


def user_error_message(err: BaseException) -> str | None:
    """The message of a deliberate error of this package (unwrapping `instantiate`'s), else None."""
    from hydra.errors import InstantiationException

    key = None
    if isinstance(err, InstantiationException) and err.__cause__ is not None:
        found = re.search(r"full_key: (\S+)", str(err))
        key = found.group(1) if found else None
        err = err.__cause__
    if not isinstance(err, _USER_ERRORS) or not _raised_in_package(err):
        return None
    message = str(err)
    return f"{key}: {message}" if key and key not in message else message


def _raised_in_package(err: BaseException) -> bool:
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(_PACKAGE)

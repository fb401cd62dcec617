"""Which errors are the user's: they end an entry point with one line, not a traceback (`cli.entry_point`).

An error this package raises on purpose (a `ValueError`, `OSError` or `RuntimeError` whose raising frame is in
`forams_lightning`, also when Hydra's `instantiate` wraps it) names the key or file at fault; its traceback would only
hide that line. Anything else is a defect and keeps its traceback, and ``HYDRA_FULL_ERROR=1`` shows it for every
error. In a multirun the error goes to the launcher, which reports the failing job.
"""

from __future__ import annotations

import errno
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
    if isinstance(err, OSError) and err.errno in _FULL_DISK:
        return full_disk_message(err)
    if not isinstance(err, _USER_ERRORS) or not _raised_in_package(err):
        return None
    message = str(err)
    return f"{key}: {message}" if key and key not in message else message


_FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


def full_disk_message(err: OSError) -> str:
    """A full disk, wherever in the stack it was met: the file, the space left, and that what was written before it
    is complete (every output is written whole or not at all)."""
    import shutil

    where = Path(err.filename) if err.filename else None
    try:
        free = f", {shutil.disk_usage(where.parent if where else '.').free / 2**20:.1f} MiB free"
    except OSError:
        free = ""
    return (f"{where or 'an output file'}: no space left on its disk{free}; the outputs written before it are "
            "complete, the rest were not written: free space (or choose another hydra.run.dir) and run again")


def _raised_in_package(err: BaseException) -> bool:
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(_PACKAGE)

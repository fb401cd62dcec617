"""One writer at a time: every change of a library holds a lock file beside it, so two changes made at once both
land (the second waits for the first) instead of one overwriting the other."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

WAIT_S = 600.0  # how long a second writer waits for the first


@contextmanager
def library_lock(folder: str | Path, wait_s: float = WAIT_S) -> Iterator[None]:
    """Hold `.<library>.lock` beside the library folder (POSIX advisory lock: released by the system when the holder
    dies, so a killed change never leaves the library locked). A second writer waits up to `wait_s` seconds, saying
    so once, then stops with a one-line error; nothing is changed by a writer that did not get the lock."""
    folder = Path(folder)
    path = folder.with_name(f".{folder.name}.lock")
    with _open_lock_file(path, folder) as handle:
        deadline, said = time.monotonic() + wait_s, False
        while not _try_lock(handle):
            if time.monotonic() > deadline:
                raise RuntimeError(f"library={folder}: another change of it has been running for over "
                                   f"{wait_s:.0f} s ({path} is held); try again when it has finished")
            if not said:
                log.warning("library=%s: another change of it is running; waiting for it to finish", folder)
                said = True
            time.sleep(0.2)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")  # who holds it, for a person looking
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _open_lock_file(path: Path, folder: Path) -> IO[str]:
    """The lock file, opened; one that is not a plain file (a folder, a FIFO someone made) or cannot be opened is
    refused naming it, before anything waits on it."""
    if path.exists() and not path.is_file() or path.is_symlink():
        raise ValueError(f"library={folder}: its lock file {path} is not a plain file; remove it (no change of the "
                         "library is running while it is not a file) and try again")
    try:
        return open(path, "a+")
    except OSError as error:
        raise OSError(f"library={folder}: its lock file {path} cannot be written ({error.strerror}); the library "
                      "can be read but not changed from here") from None


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False

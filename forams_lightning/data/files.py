"""Find the image files under a folder: recursively, following symbolic links to folders once (a loop is cut), only
regular files with an image suffix; what is skipped is said, never silently dropped."""

from __future__ import annotations

import logging
import os
import stat
from collections import Counter
from pathlib import Path

from forams_lightning.data.images import IMAGE_EXTENSIONS

log = logging.getLogger(__name__)


def image_files(folder: str | Path) -> list[Path]:
    """Sorted image files under `folder`, hidden folders and files (a name starting with ".") left out; one
    warning lists what was skipped: hidden entries, files without an image suffix, entries that are not regular
    files (FIFOs, devices, sockets, broken links) and symbolic-link loops."""
    found: list[Path] = []
    skipped: Counter = Counter()
    seen: set = set()
    for top, dirs, files in os.walk(folder, followlinks=True):
        key = _identity(top)
        if key in seen:  # a link back up the tree: searched once already
            skipped["symbolic-link loops"] += 1
            dirs[:] = []
            continue
        seen.add(key)
        hidden = [d for d in dirs if d.startswith(".")]
        skipped["hidden folders"] += len(hidden)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            _sort_file(Path(top) / name, found, skipped)
    said = ", ".join(f"{n} {what}" for what, n in skipped.items() if n)
    if said:
        log.warning("%s: skipped %s", folder, said)
    return sorted(found)


def _sort_file(path: Path, found: list[Path], skipped: Counter) -> None:
    if path.name.startswith("."):
        skipped["hidden files"] += 1
    elif path.suffix.lower() not in IMAGE_EXTENSIONS:
        skipped["files without an image suffix"] += 1
    elif not is_regular_file(path):
        skipped["entries that are not regular files"] += 1
    else:
        found.append(path)


def is_regular_file(path: str | Path) -> bool:
    """True for a regular file (a link to one included); False for FIFOs, devices, sockets, folders, broken links."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # a broken link
        return False


def _identity(folder: str) -> tuple[int, int]:
    st = os.stat(folder)
    return st.st_dev, st.st_ino

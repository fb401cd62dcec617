"""Atomic file writes: a kill during writing leaves the old file or none, never a truncated one.

Temporary files and folders from `tempfile` are private (0600 / 0700) and a rename keeps that mode; what is written
here gets the mode a plain `open()` / `mkdir` would give under the user's umask, so colleagues on a shared server can
read run folders and reference libraries."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, plain_mode())
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def atomic_write_csv(path: str | os.PathLike, header: list[str], rows) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(safe_rows(rows))
    atomic_write_text(path, buffer.getvalue())


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula (OWASP)


def spreadsheet_safe(cell):
    """A text cell a spreadsheet would run as a formula (`=HYPERLINK(...)` as a species or sample name) behind a
    quote, as OWASP's rule for CSV injection says; numbers, and text that reads as a number, as they are."""
    if not isinstance(cell, str) or not cell.startswith(FORMULA_STARTS):
        return cell
    try:
        float(cell)
        return cell
    except ValueError:
        return "'" + cell


def safe_rows(rows):
    return ([spreadsheet_safe(cell) for cell in row] for row in rows)


class AtomicCsvWriter:
    """A CSV written row by row (as results come: memory stays flat) into a hidden sibling, renamed into place when
    complete; a failure or a kill leaves the previous file or none. Mode as a plain open() gives."""

    def __init__(self, path: str | os.PathLike, header: list[str]):
        self.path = Path(path)
        self.tmp, self.header = self.path.with_name(f".{self.path.name}.partial"), header

    def __enter__(self) -> AtomicCsvWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.tmp, "w", newline="")
        self.writer = csv.writer(self.file, lineterminator="\n")
        self.writer.writerow(self.header)
        return self

    def write(self, rows) -> None:
        self.writer.writerows(safe_rows(rows))
        self.file.flush()

    def __exit__(self, kind, *_) -> None:
        self.file.close()
        if kind is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def plain_mode(directory: bool = False) -> int:
    """The permission bits a new file (or folder) gets from `open()` (or `mkdir`) under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask

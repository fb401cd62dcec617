"""An expert's verdicts on a live review's specimens, and `verdicts.csv` (file, species, validated_by, when) in the run
folder: written at every verdict before it is acknowledged, what a review started again on the same run folder
resumes from, and what `library add images=verdicts.csv` reads."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from forams_lightning.atomic import atomic_write_csv

VERDICTS = "verdicts.csv"
VERDICTS_HEADER = ["file", "species", "validated_by", "when"]


@dataclass(frozen=True)
class Verdict:
    specimen: int  # index into the sample's files
    species: str
    validated_by: str
    when: str


def now() -> str:
    """When a verdict is given: UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_verdicts(run: Path, verdicts: Sequence[Verdict], files: Sequence[str]) -> None:
    """verdicts.csv of `run`: every verdict (`files`: the sample's files, by specimen index)."""
    atomic_write_csv(run / VERDICTS, VERDICTS_HEADER, [[files[v.specimen], v.species, v.validated_by, v.when]
                                                       for v in verdicts])


def read_verdicts(run: Path, files: list[str]) -> list[Verdict]:
    """The verdicts a review of this run folder made before (none where it has no `verdicts.csv`)."""
    path = run / VERDICTS
    if not path.is_file():
        return []
    at = {f: i for i, f in enumerate(files)}
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    unknown = [r.get("file") for r in rows if r.get("file") not in at]
    if unknown or any(not (r.get("species") or "").strip() for r in rows):
        raise ValueError(f"{path}: rows of files that are not in this sample or without a species "
                         f"({unknown[:3]}); fix or move the file away to start the review afresh")
    return [Verdict(at[r["file"]], r["species"], r.get("validated_by") or "", r.get("when") or "") for r in rows]

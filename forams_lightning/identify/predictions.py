"""predictions.csv, one row per file of a sample: the vote, its share, the nearest distance, the novelty score and
flag, the candidate group and the k nearest references (species, distance, file); an unreadable file's error; an
expert's verdict (`validated_by` filled, from the live review). Its rows come from `IdentifiedSample.rows`."""

from __future__ import annotations

import csv
from pathlib import Path

PREDICTIONS = "predictions.csv"


def header(k: int) -> list[str]:
    """The columns of a sample identified with `k` neighbours."""
    columns = ["file", "species", "genus", "vote_share", "nearest_distance", "novelty_score", "novel", "group"]
    for j in range(1, k + 1):
        columns += [f"neighbour_{j}_species", f"neighbour_{j}_distance", f"neighbour_{j}_file"]
    return columns + ["error", "validated_by"]  # validated_by: the expert whose verdict the row is (live review)


def read_errors(run: Path) -> dict[str, str]:
    """The error of every unreadable file, as `identify` wrote it into the run folder's predictions.csv."""
    path = run / PREDICTIONS
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as f:
        return {r["file"]: r["error"] for r in csv.DictReader(f) if r.get("error")}


def read_files(run: Path) -> list[str]:
    """The files of the run folder's predictions.csv, in order (every file of the sample)."""
    with (run / PREDICTIONS).open(newline="", encoding="utf-8") as f:
        return [row["file"] for row in csv.DictReader(f)]

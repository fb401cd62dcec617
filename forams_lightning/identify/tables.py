"""An identified sample's tables in its run folder: predictions.csv (`identify.predictions`), streamed row by row
(a sample of 500,000 specimens is never one string in memory), and groups.csv where the sample was grouped. The
census's files: `identify.census_files`."""

from __future__ import annotations

from pathlib import Path

from forams_lightning.atomic import AtomicCsvWriter, atomic_write_csv
from forams_lightning.identify.groups import GROUPS_HEADER
from forams_lightning.identify.identified import IdentifiedSample
from forams_lightning.identify.predictions import PREDICTIONS

GROUPS = "groups.csv"


def write_tables(run: str | Path, identified: IdentifiedSample) -> list[Path]:
    """predictions.csv, and groups.csv where the sample was grouped; returns what was written."""
    run = Path(run)
    with AtomicCsvWriter(run / PREDICTIONS, identified.header()) as writer:
        writer.write(identified.rows())  # a generator: written as it is read
    if identified.groups is None:
        return [run / PREDICTIONS]
    atomic_write_csv(run / GROUPS, GROUPS_HEADER, identified.group_rows())
    return [run / PREDICTIONS, run / GROUPS]

"""The audit's suspects as an expert goes through them: each decision an edit of the library through its own editing
(`library.editing`: under its lock, a new version, a history entry); undo reverses it. Plain Python: the audit
view (`review.web.audit_app`) and a script use it the same way."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from forams_lightning.library.audit import AuditRow, audit_library
from forams_lightning.library.editing import add_references, reference_indices, relabel_references, remove_references
from forams_lightning.library.storage import load_library
from forams_lightning.metrics.knn import knn_search

ACTIONS = ("relabel", "remove", "keep")
NEIGHBOURS_SHOWN = 6


class AuditReview:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.library = load_library(self.folder)  # as audited: the neighbours shown come from it
        self.rows: list[AuditRow] = audit_library(self.library)
        self.decisions: dict[int, tuple[str, str]] = {}  # row -> (action, species it was given)

    def decide(self, index: int, action: str, species: str | None = None) -> None:
        """`relabel` the row's reference to `species` (default: the suggested one), `remove` it, or `keep` it."""
        row = self._row(index)
        if action not in ACTIONS:
            raise ValueError(f"action={action!r}: one of {', '.join(ACTIONS)}")
        if index in self.decisions:
            raise ValueError(f"{row.file}: already decided ({self.decisions[index][0]}); undo it first")
        target = (species or row.suggested_species).strip()
        if action == "relabel":
            relabel_references(self.folder, files=[row.file], species=target)
        elif action == "remove":
            remove_references(self.folder, files=[row.file])
        self.decisions[index] = (action, target if action == "relabel" else row.species)

    def undo(self, index: int) -> None:
        """The decision on row `index` reversed: relabelled back, or added again (embedded from its image)."""
        row = self._row(index)
        if index not in self.decisions:
            raise ValueError(f"{row.file}: no decision to undo")
        action, _ = self.decisions.pop(index)
        if action == "relabel":
            relabel_references(self.folder, files=[row.file], species=row.species)
        elif action == "remove":
            with tempfile.TemporaryDirectory() as tmp:
                listed = Path(tmp) / "back.csv"
                with listed.open("w", newline="") as f:
                    csv.writer(f).writerows([["file", "species"], [row.file, row.species]])
                add_references(self.folder, str(listed))

    def neighbours(self, index: int) -> list[dict]:
        """The reference's nearest other references in the audited library (index, file, species, distance)."""
        library = self.library
        at = reference_indices(library, [self._row(index).file])[0]
        distances, ids = knn_search(library.embeddings, library.embeddings[[at]], NEIGHBOURS_SHOWN + 1,
                                    library.metric)
        return [{"reference": int(g), "file": library.files[g], "species": library.species[library.labels[g]],
                 "distance": float(d)} for g, d in zip(ids[0], distances[0]) if g != at][:NEIGHBOURS_SHOWN]

    def _row(self, index: int) -> AuditRow:
        if not 0 <= index < len(self.rows):
            raise ValueError(f"row {index}: the audit has {len(self.rows)} rows")
        return self.rows[index]

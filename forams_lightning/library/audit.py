"""An audit of a library's own labels: every reference voted by the others (leave-one-out, the library's own vote
and re-ranking), those whose species the others disagree with ranked most suspicious first, and the duplicates
(the same image twice, under one species or two).

Experts disagree on a fifth to a third of planktic foraminifera (Al-Sabouni et al. 2018; Fenton et al. 2018), so a
reference collection carries wrong labels, and each one misleads every vote it joins. The score of a suspect is the
share its suggested species gets in the leave-one-out vote minus the share of the neighbours that agree with its own
label: 1 where every neighbour names another species, near 0 where the vote is split.

    from forams_lightning.library.audit import audit_library
    rows = audit_library(load_library("lib"))      # AuditRow(file, species, suggested_species, score, reason)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forams_lightning.atomic import atomic_write_csv
from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.metrics.knn import knn_search, knn_vote

HEADER = ["file", "species", "suggested_species", "score", "reason"]


@dataclass(frozen=True)
class AuditRow:
    file: str
    species: str
    suggested_species: str
    score: float
    reason: str  # "vote" or "duplicate of FILE"

    def cells(self) -> list:
        return [self.file, self.species, self.suggested_species, f"{self.score:.3f}", self.reason]


def leave_one_out_votes(library: ReferenceLibrary, k: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each reference's species by the vote of the others (its `k` nearest other references, ranked as `identify`
    ranks them, balanced, its own species counted without it), that species' vote share, and the share of the `k`
    that carry the reference's own label."""
    k = min(k or library.k, len(library.files) - 1)
    csls = library.default_reranking().csls_k
    hub = library._hubness(library.embeddings, csls) if csls else None
    _, ids = knn_search(library.embeddings, library.embeddings, k + 1, library.metric, csls_k=csls, hub=hub)
    ids = _without_self(ids)
    labels = library.labels[ids]
    sizes = np.bincount(library.labels, minlength=len(library.species))
    prediction, share = np.zeros(len(ids), int), np.zeros(len(ids))
    for species in np.unique(library.labels):  # the own species counted without the reference left out
        rows = np.flatnonzero(library.labels == species)
        without = sizes.copy()
        without[species] -= 1
        prediction[rows], share[rows] = knn_vote(labels[rows], len(library.species), without)
    agree = (labels == library.labels[:, None]).mean(1)
    return prediction, share, agree


def _without_self(ids: np.ndarray) -> np.ndarray:
    """Each row's neighbours without itself (CSLS need not rank a reference first among its own neighbours)."""
    own = ids == np.arange(len(ids))[:, None]
    drop = np.where(own.any(1), own.argmax(1), ids.shape[1] - 1)
    keep = np.ones_like(own)
    keep[np.arange(len(ids)), drop] = False
    return ids[keep].reshape(len(ids), ids.shape[1] - 1)


def audit_library(library: ReferenceLibrary, k: int | None = None) -> list[AuditRow]:
    """The suspects (leave-one-out vote for another species), most suspicious first, then the duplicates."""
    if len(library.files) < 3:
        return []
    prediction, share, agree = leave_one_out_votes(library, k)
    names = library.species
    suspects = [AuditRow(library.files[i], names[library.labels[i]], names[prediction[i]],
                         float(share[i] - agree[i]), "vote")
                for i in np.flatnonzero(prediction != library.labels)]
    suspects.sort(key=lambda row: -row.score)
    return suspects + duplicates(library)


def duplicates(library: ReferenceLibrary) -> list[AuditRow]:
    """Every reference whose image (its bytes' sha1, or an identical embedding where no hash is kept) is an earlier
    reference's too: score 1 under another species, 0 under the same."""
    first: dict[object, int] = {}
    rows = []
    for i, (digest, vector) in enumerate(zip(library.hashes, library.embeddings)):
        key = digest or vector.tobytes()
        if key not in first:
            first[key] = i
            continue
        j = first[key]
        own, other = library.species[library.labels[i]], library.species[library.labels[j]]
        rows.append(AuditRow(library.files[i], own, other, float(own != other), f"duplicate of {library.files[j]}"))
    return sorted(rows, key=lambda row: -row.score)


def write_audit(path: str | Path, rows: list[AuditRow]) -> None:
    """audit.csv: one row per suspect and duplicate (`HEADER`), most suspicious first."""
    atomic_write_csv(path, HEADER, [row.cells() for row in rows])


def audit_report(library: ReferenceLibrary, out: str | Path) -> str:
    """audit.csv written into the folder `out`; returns what to tell the user (counts, the top 10, the next step)."""
    rows = audit_library(library)
    write_audit(Path(out) / "audit.csv", rows)
    suspects = [r for r in rows if r.reason == "vote"]
    lines = [f"{len(suspects)} references the others vote another species, {len(rows) - len(suspects)} duplicates "
             f"-> {Path(out) / 'audit.csv'}"]
    lines += [f"  {r.score:.2f}  {r.species} -> {r.suggested_species}: {r.file}" for r in suspects[:10]]
    lines.append(f"review them one key each: python -m forams_lightning.review audit=true library={library.folder}")
    return "\n".join(lines)

"""A reference library as text (`library show`): species and counts, provenance, calibration and history."""

from __future__ import annotations

from forams_lightning.library.reference_library import ReferenceLibrary
from forams_lightning.library.storage import missing_originals


def describe(library: ReferenceLibrary) -> str:
    counts = library.counts()
    emptied = [s for s, n in counts.items() if not n]
    lines = [f"{len(library.files)} references of {len(counts) - len(emptied)} species"
             + (f" (and {len(emptied)} whose references were all removed)" if emptied else "")
             + f", {library.metric} {library.k}-NN, novelty threshold {library.threshold:.4f} on "
             f"{novelty_text(library)}"]
    if library.species_thresholds is not None:
        table = library.threshold_table()
        lines.append(f"each species' own threshold: {table.min():.4f} to {table.max():.4f} (never below the "
                     "pooled one)")
    calibration = library.info.get("calibration") or {}
    if calibration:
        lines.append("threshold calibrated on " + ", ".join(f"{k} {v}" for k, v in calibration.items()))
    if library.grouping:
        g = library.grouping
        lines.append(f"novel specimens grouped at {g.linkage} linkage, cut {g.threshold:.4f}"
                     + (f", counted at {g.share:.2f} of a sample" if g.share else "") + f", calibrated on {g.source}")
    if library.confusion is not None:
        flagged = 0 if library.confusion_flagged is None else int(library.confusion_flagged.sum())
        lines.append(f"census adjusted for the confusion of {int(library.confusion.sum()) + flagged} held-out images "
                     f"({flagged} of them flagged novel)")
    lines.append(versions_text(library))
    for key in ("created", "checkpoint", "run_dir", "git_commit"):
        if key in library.info:
            lines.append(f"{key}: {library.info[key]}")
    missing = missing_originals(library)
    if missing:
        lines.append(f"{missing} of {len(library.files)} reference images are not at their stored paths (the library "
                     "or the images moved): the review shows the library's own thumbnails of them")
    width = max(len(s) for s in counts) if counts else 0
    lines += ["", "species".ljust(width) + "  references",
              *(f"{s.ljust(width)}  {n or '0 (removed)'}" for s, n in counts.items())]
    history = library.info.get("history") or []
    if history:
        lines += ["", "history:", *(" - " + ", ".join(f"{k} {v}" for k, v in h.items()) for h in history)]
    return "\n".join(lines)


def novelty_text(library: ReferenceLibrary) -> str:
    """What the library's novelty score measures, in words."""
    n, scale_k = library.novelty.neighbours, library.novelty.scale_k
    text = "the distance to the nearest reference" if n == 1 else f"the mean distance to the {n} nearest references"
    return text + (f", each in units of the reference's spread ({scale_k} nearest)" if scale_k else "")


def versions_text(library: ReferenceLibrary) -> str:
    """Which package version built the library and which last changed it (libraries travel between versions)."""
    from forams_lightning.library.manifest import VERSION

    built = library.info.get("package_version") or "an unrecorded version"
    changed = [h.get("package_version") for h in library.info.get("history") or []]
    last = f"; last changed by {changed[-1] or 'an unrecorded version'}" if changed else ""
    return f"built by forams-lightning {built} (library format {VERSION}){last}"

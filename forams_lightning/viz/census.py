"""census.png, a stratigraphic abundance figure: one narrow panel per species (and one for the share no known species
explains), the adjusted share against depth, age or sample order (top of the core at the top), a filled silhouette
with its 95% band. Species too rare to see anywhere are summed into one "other species" panel so the figure stays
legible at 50 samples of 35 species and bounded in size at thousands of samples."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from forams_lightning.data.samples import SamplePositions
from forams_lightning.viz.figures import pyplot, save_figure

PANELS = 36  # species panels at most (the rest as "other species")
VISIBLE = 0.01  # a species gets its own panel where its adjusted share reaches this in some sample
MAX_HEIGHT = 24.0  # inches, whatever the number of samples
LABELLED_SAMPLES = 60  # sample names on the axis up to this many samples (positions where given)


def _series(rows: list[list]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Samples in the rows' order and, per species (and "unexplained"), [share, low, high] of every sample."""
    samples = list(dict.fromkeys(r[0] for r in rows))
    at = {s: i for i, s in enumerate(samples)}
    series: dict[str, np.ndarray] = defaultdict(lambda: np.zeros((len(samples), 3)))
    for sample, kind, name, _, _, _, _, share, low, high in rows:
        if kind in ("species", "unexplained") and share != "":
            series["unexplained" if kind == "unexplained" else name][at[sample]] = share, low, high
    return samples, dict(series)


def _panels(series: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """Species panels by mean share (those reaching `VISIBLE`, at most `PANELS`), "other species", "unexplained"."""
    species = sorted((n for n in series if n != "unexplained"), key=lambda n: -series[n][:, 0].mean())
    shown = [n for n in species if series[n][:, 0].max() >= VISIBLE][:PANELS]
    rest = [series[n] for n in species if n not in shown]
    panels = [(n, series[n]) for n in shown]
    if rest:
        total = sum(r[:, 0] for r in rest)
        panels.append(("other species", np.stack([total, total, total], 1)))
    if "unexplained" in series:
        panels.append(("unexplained", series["unexplained"]))
    return panels


def save_census_png(rows: list[list], path: Path, positions: SamplePositions | None = None) -> Path:
    """`rows`: `identify.census.HEADER` rows, samples in core order."""
    plt = pyplot()
    samples, series = _series(rows)
    panels = _panels(series) or [("unexplained", np.zeros((len(samples), 3)))]
    y = np.array([positions.values.get(s, np.nan) for s in samples]) if positions else \
        np.arange(len(samples), dtype=float)
    height = min(MAX_HEIGHT, max(5.0, 3.0 + 0.16 * len(samples)))
    fig, axes = plt.subplots(1, len(panels), sharey=True, squeeze=False,
                             figsize=(1.6 + 0.75 * len(panels), height))
    for i, (ax, (name, values)) in enumerate(zip(axes[0], panels)):
        _panel(ax, name, y, values, first=i == 0)
    first = axes[0][0]
    first.set_ylabel(positions.axis if positions else "sample")
    if not positions and len(samples) <= LABELLED_SAMPLES:
        first.set_yticks(y, samples, fontsize=7)
    if len(samples) > 1:
        margin = 0.5 if not positions else 0.03 * (np.nanmax(y) - np.nanmin(y))  # the end samples' markers whole
        first.set_ylim(np.nanmax(y) + margin, np.nanmin(y) - margin)
    else:
        first.invert_yaxis()
    fig.suptitle("adjusted share of each sample (95% band; census.csv)", fontsize=9, y=0.995)
    fig.subplots_adjust(left=min(0.3, 1.4 / fig.get_figwidth()), right=0.99, top=1 - 1.2 / height, bottom=0.6 / height,
                        wspace=0.15)
    return save_figure(fig, path, dpi=100)


def _panel(ax, name: str, y: np.ndarray, values: np.ndarray, *, first: bool) -> None:
    share, low, high = values.T
    grey = name in ("other species", "unexplained")
    colour = "#888888" if grey else "#2a6f97"
    if len(y) > 1:
        ax.fill_betweenx(y, low, high, color=colour, alpha=0.25, linewidth=0)
        ax.fill_betweenx(y, 0, share, color=colour, alpha=0.6, linewidth=0,
                         hatch="//" if name == "unexplained" else None)
    ax.errorbar(share, y, xerr=[share - low, high - share], fmt="o", ms=2, color=colour, elinewidth=0.6)
    top = max(0.05, float(np.nanmax(high)))
    ax.set_xlim(0, top * 1.05)
    # the panel's maximum at its right edge, 0 on the first panel only: neighbouring labels never collide
    ax.set_xticks([0, top], ["0" if first else "", f"{top:.2g}"])
    ax.set_title(name, rotation=60, ha="left", va="bottom", fontsize=7, style="normal" if grey else "italic")
    ax.tick_params(labelsize=6)

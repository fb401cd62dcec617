"""census.png: one stacked bar per sample, the species' adjusted proportions (the most abundant species by name, the
rest as "other species"), the novel specimens as one hatched segment."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from forams_lightning.viz.figures import pyplot, save_figure

NAMED = 12  # species named in the legend; the rest are "other species"


def save_census_png(rows: list[list], path: Path) -> Path:
    """`rows`: `reference.census.HEADER` rows."""
    plt = pyplot()
    shares: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for sample, kind, name, _, _, _, _, adjusted, *_ in rows:
        shares[sample]["novel" if kind == "novel group" else name] += float(adjusted)
    totals: dict[str, float] = defaultdict(float)
    for per in shares.values():
        for name, value in per.items():
            if name != "novel":
                totals[name] += value
    named = sorted(totals, key=lambda n: -totals[n])[:NAMED]
    samples = sorted(shares)
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.4 * len(samples)))
    colours = plt.get_cmap("tab20").colors
    left = [0.0] * len(samples)
    segments = [(n, lambda per, n=n: per.get(n, 0.0)) for n in named]
    segments.append(("other species", lambda per: sum(v for k, v in per.items() if k not in named and k != "novel")))
    segments.append(("novel", lambda per: per.get("novel", 0.0)))
    for i, (label, value) in enumerate(segments):
        widths = [value(shares[s]) for s in samples]
        ax.barh(samples, widths, left=left, label=label, color="white" if label == "novel" else colours[i % 20],
                hatch="//" if label == "novel" else None, edgecolor="#555" if label == "novel" else None)
        left = [a + b for a, b in zip(left, widths)]
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("proportion of the sample (species: adjusted for the library's confusion)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)

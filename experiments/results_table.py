"""Markdown table of a study: one row per recipe, mean ± std over its seeds, of the chosen metrics.

    python experiments/results_table.py OUT "note" metric[=label] ...   (reads OUT/<recipe>/seed<k>/metrics.json,
    or eval_metrics.json where the row is an evaluation of trained runs, e.g. an ensemble)
"""

import json
import os
import platform
import sys
from datetime import date
from pathlib import Path

import numpy as np


def main(root: Path, note: str, columns: dict[str, str]) -> str:
    lines = ["| recipe | seeds | " + " | ".join(columns.values()) + " | fit + test time |",
             "| --- | --- |" + " --- |" * (len(columns) + 1)]
    devices = set()
    for recipe in sorted(p for p in root.iterdir() if p.is_dir()):
        runs = [_read_run(folder) for folder in sorted(recipe.glob("seed*"))]
        runs = [r for r in runs if r is not None]
        if not runs:
            continue
        devices |= {f"{r['accelerator'].replace('Accelerator', '')} ×{r['world_size']}"
                    for r in runs if "accelerator" in r}
        cells = []
        for key in columns:
            values = np.array([r[key] for r in runs if key in r], float)
            values = values[np.isfinite(values)]  # runs without training have no best epoch (NaN)
            spread = f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else ""
            cells.append(f"{values.mean():.3f}{spread}" if len(values) else "-")
        seconds = [r.get("run_seconds", r.get("fit_seconds")) for r in runs]
        time = f"{np.mean(seconds) / 60:.1f} min" if None not in seconds else "-"
        lines.append(f"| {recipe.name} | {len(runs)} | " + " | ".join(cells) + f" | {time} |")
    where = ", ".join(sorted(devices)) or "CPU"
    machine = f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores, {where})"
    head = f"Measured {date.today()} on {machine}; {note}\n"
    return "\n".join([head, *lines]) + "\n"


def _read_run(folder: Path) -> dict | None:
    """A training run's metrics.json + run.json, or the eval_metrics.json of `forams_lightning.eval` (an ensemble
    of trained runs: no training time of its own)."""
    if (folder / "metrics.json").is_file():
        run = folder / "run.json"
        return {**json.loads((folder / "metrics.json").read_text()),
                **(json.loads(run.read_text()) if run.is_file() else {})}
    if (folder / "eval_metrics.json").is_file():
        return json.loads((folder / "eval_metrics.json").read_text())
    return None


if __name__ == "__main__":
    out, note, *specs = sys.argv[1:]
    print(main(Path(out), note, dict(s.split("=", 1) if "=" in s else (s, s) for s in specs)), end="")

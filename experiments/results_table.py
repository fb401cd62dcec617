"""Markdown table of a study: one row per recipe, mean ± std over its seeds, of the chosen metrics.

    python experiments/results_table.py OUT "note" metric[=label] ...   (reads OUT/<recipe>/seed<k>/metrics.json)
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
        runs = [{**json.loads(p.read_text()), **json.loads(p.with_name("run.json").read_text())}
                if p.with_name("run.json").is_file() else json.loads(p.read_text())
                for p in sorted(recipe.glob("seed*/metrics.json"))]
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
        minutes = np.mean([r.get("run_seconds", r.get("fit_seconds", 0)) for r in runs]) / 60
        lines.append(f"| {recipe.name} | {len(runs)} | " + " | ".join(cells) + f" | {minutes:.1f} min |")
    where = ", ".join(sorted(devices)) or "CPU"
    machine = f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores, {where})"
    head = f"Measured {date.today()} on {machine}; {note}\n"
    return "\n".join([head, *lines]) + "\n"


if __name__ == "__main__":
    out, note, *specs = sys.argv[1:]
    print(main(Path(out), note, dict(s.split("=", 1) if "=" in s else (s, s) for s in specs)), end="")

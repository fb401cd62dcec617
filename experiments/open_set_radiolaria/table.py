"""Markdown table, one row per recipe (mean ± std over its seeds), of the open-set metrics on the radiolaria test
species: python table.py OUT   (OUT/<recipe>/seed<k>/metrics.json)"""

import json
import platform
import sys
from datetime import date
from pathlib import Path

import numpy as np

COLUMNS = {"open/loo_1nn_acc": "LOO 1-NN acc", "open/loo_1nn_macro_f1": "LOO macro F1",
           "open/knn_acc": "5-NN acc (gallery split)", "open/kmeans_acc": "k-means acc", "open/kmeans_nmi": "k-means NMI",
           "open/kmeans_ari": "k-means ARI", "open/agglo_nmi": "agglo NMI", "open/agglo_k": "agglo k (true 67)",
           "open/novelty_auroc": "novelty AUROC"}

root = Path(sys.argv[1])
print(f"Measured {date.today()} on {platform.node()} ({platform.machine()}, 2 cores, CPU only); test species (67).\n")
print("| recipe | seeds | " + " | ".join(COLUMNS.values()) + " | fit + test time |")
print("| --- | --- |" + " --- |" * (len(COLUMNS) + 1))
for recipe in sorted(p for p in root.iterdir() if p.is_dir()):
    runs = [{**json.loads(p.read_text()), **json.loads(p.with_name("run.json").read_text())}
            if p.with_name("run.json").is_file() else json.loads(p.read_text())
            for p in sorted(recipe.glob("seed*/metrics.json"))]
    if not runs:
        continue
    cells = []
    for key in COLUMNS:
        values = np.array([r[key] for r in runs if key in r], float)
        spread = f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else ""
        cells.append(f"{values.mean():.3f}{spread}" if len(values) else "-")
    minutes = np.mean([r.get("run_seconds", r.get("fit_seconds", 0)) for r in runs]) / 60
    print(f"| {recipe.name} | {len(runs)} | " + " | ".join(cells) + f" | {minutes:.1f} min |")

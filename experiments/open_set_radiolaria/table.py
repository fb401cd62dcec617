"""Markdown table of the open-set metrics of every run folder under a directory: python table.py DIR"""

import json
import platform
import sys
from datetime import date
from pathlib import Path

from forams_lightning.sweep_summary import summary_table

root = Path(sys.argv[1])
runs = {p.parent.name: json.loads(p.read_text()) for p in sorted(root.glob("*/metrics.json"))}
print(f"Measured {date.today()} on {platform.node()} ({platform.machine()}, 2 cores, CPU only), seed 0.\n")
print(summary_table(runs, prefixes=("open/loo", "open/knn", "open/kmeans", "open/agglo_nmi", "open/agglo_k",
                                    "open/novelty_auroc"), with_mean=False))

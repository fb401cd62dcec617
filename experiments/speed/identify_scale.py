"""identify on a whole sediment sample: throughput, peak memory, review page sizes and browser opening time.

    python experiments/speed/identify_scale.py LIBRARY SOURCE_IMAGES --n 10000 [--work /tmp/identify_scale]
    python experiments/speed/identify_scale.py LIBRARY SOURCE_IMAGES --against /tmp/previous --repeats 2

Builds a sample of n specimens by copying SOURCE_IMAGES (a folder, searched recursively) round-robin, runs
`python -m forams_lightning.identify` on it in a child process and reports: wall time and images/s (what the
command logs at the end), the child's peak resident memory, predictions.csv rows, the size of the review pages and
thumbnails (all, and the first page with the thumbnails it shows), and the time headless Chromium takes to load the
first page (where `chromium` is installed). Writes a Markdown table row set to stdout and `identify_scale.json`.

`--against DIR` (a checkout of another version of the package, e.g. `git worktree add /tmp/previous HEAD~1`) runs
that version and this one alternately `--repeats` times on the same sample and library (one both can read) and
reports the best wall time of each and their ratio: the same work, measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path


def build_sample(source: Path, n: int, folder: Path) -> None:
    images = sorted(p for p in source.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".tif", ".tiff"})
    if not images:
        raise SystemExit(f"{source}: no images")
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        target = folder / f"{i:06d}{images[i % len(images)].suffix}"
        if not target.exists():
            shutil.copy(images[i % len(images)], target)


def chromium_seconds(page: Path, profile: Path) -> float | None:
    if shutil.which("chromium") is None:
        return None
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             f"--user-data-dir={profile}"]
    start = time.perf_counter()
    subprocess.run(["chromium", *flags, "--dump-dom", page.as_uri()], capture_output=True, timeout=300, check=True)
    return time.perf_counter() - start


def identify_seconds(library: Path, sample: Path, out: Path, package: Path | None = None) -> float:
    """Wall time of one `identify` run in a child process (`package`: the checkout whose code it runs)."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, **({"PYTHONPATH": str(package)} if package else {})}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "forams_lightning.identify", f"library={library}", f"images={sample}",
                    f"hydra.run.dir={out}"], check=True, stdout=subprocess.DEVNULL, env=env,
                   cwd=package or Path.cwd())
    return time.perf_counter() - start


def compare(library: Path, source: Path, n: int, work: Path, against: Path, repeats: int) -> dict:
    """This version against another on the same sample, alternately; the best of `repeats` each."""
    library, sample = library.resolve(), work.resolve() / f"sample_{n}"
    build_sample(source, n, sample)
    times = {"this": [], "against": []}
    for _ in range(repeats):
        times["against"].append(identify_seconds(library, sample, work.resolve() / "out_against", against))
        times["this"].append(identify_seconds(library, sample, work.resolve() / "out_this"))
    best = {k: min(v) for k, v in times.items()}
    return {"n": n, "this_s": [round(t, 1) for t in times["this"]],
            "against_s": [round(t, 1) for t in times["against"]], "against": str(against),
            "ratio_this_over_against": round(best["this"] / best["against"], 3),
            "machine": f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores)", "date": str(date.today())}


def main(library: Path, source: Path, n: int, work: Path) -> dict:
    sample, out = work / f"sample_{n}", work / f"identified_{n}"
    build_sample(source, n, sample)
    wall = identify_seconds(library, sample, out)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    pages = sorted(out.glob("review*.html"))
    thumbs = list((out / "review_files").glob("*"))
    first = out / "review.html"
    shown = set(re.findall(r"review_files/[0-9a-f]+\.jpg", first.read_text()))
    result = {
        "n": n, "wall_s": round(wall, 1), "images_per_s": round(n / wall, 1), "peak_rss_mib": round(peak_mib),
        "predictions_rows": len((out / "predictions.csv").read_text().splitlines()) - 1,
        "pages": len(pages), "thumbnails": len(thumbs),
        "review_total_mib": round((sum(p.stat().st_size for p in pages) + sum(t.stat().st_size for t in thumbs))
                                  / 2**20, 2),
        "first_page_mib": round((first.stat().st_size + sum((out / t).stat().st_size for t in shown)) / 2**20, 2),
        "chromium_first_page_s": chromium_seconds(first, work / "chromium-profile"),
        "log_tail": (out / "identify.log").read_text().strip().splitlines()[-1],
        "machine": f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores)", "date": str(date.today()),
    }
    (work / "identify_scale.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", type=Path)
    parser.add_argument("source", type=Path)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/identify_scale"))
    parser.add_argument("--against", type=Path, help="a checkout of another version: run both, report the ratio")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if args.against:
        result = compare(args.library, args.source, args.n, args.work, args.against.resolve(), args.repeats)
    else:
        result = main(args.library, args.source, args.n, args.work)
    print(json.dumps(result, indent=2))

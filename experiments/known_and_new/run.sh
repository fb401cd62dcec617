#!/usr/bin/env bash
# One library for known and new species: closed_set, open_set and their joint embedding (an ensemble library of the
# two networks: each part L2-normalised, concatenated) on the embedded library with species withheld
# (data.open_set.folds=5, folds 0-2). Then `table.py` writes results.md. ~60 min on a 2-core CPU.
#   bash experiments/known_and_new/run.sh [WORK=runs/known_and_new]
set -euo pipefail
W=${1:-runs/known_and_new}
PY=${PY:-.venv/bin/python}
mkdir -p "$W"
for f in 0 1 2; do
  [ -f "$W/closed_f$f/metrics.json" ] || $PY -m forams_lightning.train +experiment=closed_set data.open_set.folds=5 \
    data.open_set.fold=$f logger=csv hydra.run.dir="$W/closed_f$f"
  [ -f "$W/open_f$f/metrics.json" ] || $PY -m forams_lightning.train +experiment=open_set data.open_set.fold=$f \
    logger=csv hydra.run.dir="$W/open_f$f"
  for r in closed open; do
    [ -f "$W/${r}_f$f/library/manifest.json" ] || $PY -m forams_lightning.export ckpt="$W/${r}_f$f" \
      out="$W/${r}_f$f/library" hydra.run.dir="$W/${r}_f$f/export"
  done
  # the joint recipe: evaluated on the closed run's split, exported as an ensemble library
  J="$W/joint_f$f"
  [ -f "$J/eval_metrics.json" ] || $PY -m forams_lightning.eval "ckpt=[$W/closed_f$f,$W/open_f$f]" \
    hydra.run.dir="$J"
  [ -f "$J/library/manifest.json" ] || $PY -m forams_lightning.export "ckpt=[$W/closed_f$f,$W/open_f$f]" \
    out="$J/library" hydra.run.dir="$J/export"
  cp "$W/closed_f$f/config.yaml" "$W/closed_f$f/split.csv" "$J/"
done
$PY experiments/few_shot_radiolaria/study.py $(for f in 0 1 2; do for r in closed open joint; do \
  echo "${r}_f$f=$W/${r}_f$f"; done; done) --out "$W/few_shot.md"
$PY experiments/known_and_new/table.py "$W" > experiments/known_and_new/results.md

#!/usr/bin/env bash
# Endless Forams reproduction kit: the paper's closed-set protocol and its open-set protocol (paper_tail10: the ten
# species of the paper's footnote withheld from training), for the paper's recipe and this project's fine-tuning
# recipe, filling results_closed.md and results_open.md.
# Usage: bash experiments/endless_forams/run.sh /path/to/endless_forams_download [rows...]   (rows: paper finetune)
# Env: SEEDS (default "0 1 2"), OUT (default logs/endless_forams), RESULTS (default this folder), EXTRA (overrides
# appended to every run, e.g. "trainer=gpu data.num_workers=8 data.cache=true").
set -euo pipefail
ROOT=${1:?path to the Endless Forams download (the folder holding "0 - Beella digitata" ...)}
shift
ROWS=${*:-paper finetune}
SEEDS=${SEEDS:-0 1 2}
OUT=${OUT:-logs/endless_forams}
HERE=$(dirname "$0")
RESULTS=${RESULTS:-$HERE}
PY=${PY:-python}
DATA="data=endless_forams data.root=$ROOT logger=csv"
OPEN="data.open_set.unknown=paper_tail10 data.open_set.folds=null"
for row in $ROWS; do
  case $row in
    # Karaderi et al.: ResNet-50 ImageNet -> 1000 -> ReLU -> 128, CE + 0.01 RTL, hardest negatives, SGD 1e-3, 5-NN.
    paper) CLOSED="+experiment=paper_closed_set"; OPENSET="+experiment=paper_open_set $OPEN" ;;
    # This project: ImageNet EfficientNet-Lite0 fine-tuned with multi-similarity loss, frozen BN, AdamW, cosine 5-NN.
    finetune) CLOSED="+experiment=closed_set"; OPENSET="+experiment=open_set $OPEN" ;;
    *) echo "unknown row $row"; exit 2 ;;
  esac
  for seed in $SEEDS; do
    for protocol in closed open; do
      dir="$OUT/$protocol/$row/seed$seed"
      test -f "$dir/metrics.json" && continue
      args=$([ $protocol = closed ] && echo "$CLOSED" || echo "$OPENSET")
      $PY -m forams_lightning.train $args $DATA seed=$seed hydra.run.dir="$dir" ${EXTRA:-}
    done
  done
done
$PY "$HERE/../results_table.py" "$OUT/closed" "closed set, 35 species, seeded 70/15/15 split per species." \
  "test/knn_acc=5-NN acc" "test/macro_f1=macro F1" "test/precision_at_1=P@1" "test/genus_acc=genus acc" \
  > "$RESULTS/results_closed.md"
$PY "$HERE/../results_table.py" "$OUT/open" "open set, the paper's ten withheld species (paper_tail10)." \
  "test/knn_acc=known 5-NN acc" "open/knn_acc=unknown 5-NN acc" "open/knn_macro_f1=unknown 5-NN F1" \
  "open/loo_1nn_acc=unknown LOO acc" "open/kmeans_nmi=k-means NMI" "open/agglo_nmi=agglo NMI" \
  "open/novelty_auroc=novelty AUROC" > "$RESULTS/results_open.md"
echo "tables: $RESULTS/results_closed.md $RESULTS/results_open.md"

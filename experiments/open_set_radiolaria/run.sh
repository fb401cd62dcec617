#!/usr/bin/env bash
# Open-set benchmark on the class-disjoint radiolaria set: the rows of results.md.
# Usage: bash experiments/open_set_radiolaria/run.sh /path/to/radiolaria [rows...]   (rows: frozen paper whitened)
# Each run writes OUT/<row>/seed<k>/metrics.json; open/* = the 67 test species (never trained or selected on).
set -euo pipefail
ROOT=${1:?path to the radiolaria folder}
shift
ROWS=${*:-frozen paper whitened}
OUT=${OUT:-logs/open_set_radiolaria}
DATA="data=radiolaria data.root=$ROOT logger=csv"
for row in $ROWS; do
  case $row in
    # ImageNet EfficientNet-Lite0 features as they are (no training), cosine.
    frozen) SEEDS="0 1 2"; ARGS="+experiment=open_set model=efficientnet_lite0 model.head.embedding_dim=null
      trainer.max_epochs=0 callbacks.knn_evaluation.metric=cosine" ;;
    # The paper's head (-> 1000 -> ReLU -> 128), CE + 0.01 RTL, hardest negatives, SGD 1e-3, Euclidean, on the same
    # offline ImageNet backbone (ResNet-50 ImageNet weights cannot be downloaded here); 4 epochs (CPU budget),
    # checkpoint selected on the val species.
    paper) SEEDS="0"; ARGS="+experiment=open_set model.backbone.name=efficientnet_lite0 model.backbone.pretrained=true
      trainer.max_epochs=4 trainer.check_val_every_n_epoch=2 optimized_metric=open_val/loo_1nn_acc" ;;
    # The best recipe: frozen backbone + learned whitening fitted on the train species, 4 quarter turns.
    whitened) SEEDS="0 1 2"; ARGS="+experiment=open_set_whitened" ;;
    *) echo "unknown row $row"; exit 2 ;;
  esac
  for seed in $SEEDS; do
    test -f "$OUT/$row/seed$seed/metrics.json" && continue
    python -m forams_lightning.train $ARGS $DATA seed=$seed hydra.run.dir="$OUT/$row/seed$seed"
  done
done
python experiments/results_table.py "$OUT" "test species (67)." "open/loo_1nn_acc=LOO 1-NN acc" \
  "open/loo_1nn_macro_f1=LOO macro F1" "open/knn_acc=5-NN acc (gallery split)" "open/kmeans_acc=k-means acc" \
  "open/kmeans_nmi=k-means NMI" "open/kmeans_ari=k-means ARI" "open/agglo_nmi=agglo NMI" \
  "open/agglo_k=agglo k (true 67)" "open/novelty_auroc=novelty AUROC" > experiments/open_set_radiolaria/results.md

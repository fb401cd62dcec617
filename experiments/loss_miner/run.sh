#!/usr/bin/env bash
# Loss/miner study: the paper's candidate objectives and the modern ones, each with its usual miner, everything else
# fixed. Usage: bash experiments/loss_miner/run.sh SET [micro-CT root]   (SET: synthetic | microct)
#   synthetic: the embedded library, ResNet-18 from scratch (no pretrained weights), 64 px, 15 epochs.
#   microct:   real micro-CT slices, frozen ImageNet EfficientNet-Lite0 + trained 128-d head (CPU budget), 128 px.
# Env: SEEDS (default "0"), OUT (default logs/loss_miner), EXTRA.
set -euo pipefail
SET=${1:?synthetic or microct}
OUT=${OUT:-logs/loss_miner}/$SET
PY=${PY:-python}
case $SET in
  synthetic) BASE="model.backbone.name=resnet18 model.backbone.pretrained=false optimizer.lr=1e-3 data.image_size=64
    logger=csv callbacks.morphospace=null trainer.max_epochs=15 trainer.check_val_every_n_epoch=5" ;;
  microct) BASE="+experiment=closed_set model.freeze=backbone data=forams_microct data.root=${2:?micro-CT root}
    logger=csv callbacks.morphospace=null data.image_size=128 +data.sampler.num_batches=25 trainer.max_epochs=8
    trainer.check_val_every_n_epoch=8 optimizer.lr=1e-3" ;;
  *) echo "unknown set $SET"; exit 2 ;;
esac
declare -A ROWS=(
  [triplet_semihard]="loss=triplet miner=semihard"
  [rtl_hardest]="loss=rtl miner=hardest_negative"
  [softmax_rtl_hardest]="loss=rtl_ce miner=hardest_negative"
  [multi_similarity]="loss=multi_similarity miner=multi_similarity"
  [arcface]="loss=arcface miner=none"
  [supcon]="loss=supcon miner=none"
)
for row in triplet_semihard rtl_hardest softmax_rtl_hardest multi_similarity arcface supcon; do
  for seed in ${SEEDS:-0}; do
    test -f "$OUT/$row/seed$seed/metrics.json" && continue
    $PY -m forams_lightning.train $BASE ${ROWS[$row]} seed=$seed hydra.run.dir="$OUT/$row/seed$seed" ${EXTRA:-}
  done
done
$PY experiments/results_table.py "$OUT" "loss/miner study on $SET (everything but the objective fixed)." \
  "test/knn_acc=5-NN acc" "test/macro_f1=macro F1" "test/precision_at_1=P@1" "val/knn_acc=val 5-NN acc" \
  > experiments/loss_miner/results_$SET.md

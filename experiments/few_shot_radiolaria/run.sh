#!/usr/bin/env bash
# Few-shot study (study.py): a library from the open-set recipe and one of frozen ImageNet features, each grown with
# n images of every unseen radiolaria test species. Usage: bash experiments/few_shot_radiolaria/run.sh /path/to/radiolaria
# Env: OUT (default logs/few_shot_radiolaria; an existing OUT/<row> run is reused), PY.
set -euo pipefail
ROOT=${1:?path to the radiolaria folder}
OUT=${OUT:-logs/few_shot_radiolaria}
PY=${PY:-python}
HERE=$(dirname "$0")
declare -A ROWS=(
  [open_set]="+experiment=open_set"
  # ImageNet EfficientNet-Lite0 features as they are, cosine (the frozen row of experiments/open_set_radiolaria)
  [frozen]="+experiment=open_set model.backbone.name=efficientnet_lite0 model.backbone.input_scale=1.0 model.backbone.layers=null
    model.head.embedding_dim=null model.tta_rotations=1 callbacks=default callbacks.open_set_evaluation.protocol.reranking.expansion_k=0"
)
for row in open_set frozen; do
  RUN=$OUT/$row
  test -f "$RUN/metrics.json" ||
    $PY -m forams_lightning.train ${ROWS[$row]} data=radiolaria data.root="$ROOT" logger=csv seed=0 hydra.run.dir="$RUN"
  CKPT=$($PY -c "import json, sys; print(json.load(open(sys.argv[1]))['best_checkpoint'])" "$RUN/metrics.json")
  test -f "$RUN/library/manifest.json" ||
    $PY -m forams_lightning.export ckpt="$RUN/$CKPT" hydra.run.dir="$RUN/export"
done
$PY "$HERE/study.py" open_set="$OUT/open_set" frozen="$OUT/frozen" --out "$HERE/results.md"

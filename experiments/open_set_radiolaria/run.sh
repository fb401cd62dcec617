#!/usr/bin/env bash
# Open-set benchmark on the class-disjoint radiolaria set: rows of results.md. Usage: bash run.sh /path/to/radiolaria
# Each row is one training run (seed 0); a row's metrics are its run folder's metrics.json (open/* = the 67 test
# species, never seen in training; choices were made on the 53 val species).
set -euo pipefail
ROOT=${1:?path to the radiolaria folder}
OUT=${OUT:-logs/open_set_radiolaria}
COMMON="+experiment=open_set data=radiolaria data.root=$ROOT logger=csv callbacks.knn_evaluation.metric=cosine"
FROZEN="model=efficientnet_lite0 model.head.embedding_dim=null trainer.max_epochs=0"
python -m forams_lightning.train $COMMON $FROZEN hydra.run.dir=$OUT/frozen_avg
python -m forams_lightning.train $COMMON $FROZEN model.backbone.pool=gem model.tta_rotations=4 hydra.run.dir=$OUT/frozen_gem_rot4
python -m forams_lightning.train $COMMON model=efficientnet_lite0 model.backbone.pool=gem model.freeze=batchnorm \
    model.backbone_lr_scale=0.01 loss=multi_similarity miner=multi_similarity optimizer=adamw scheduler=cosine \
    optimized_metric=open_val/loo_1nn_acc trainer.max_epochs=4 trainer.check_val_every_n_epoch=2 \
    hydra.run.dir=$OUT/ms_gem_frozenbn
python -m forams_lightning.train $COMMON model=efficientnet_lite0 model.backbone.pool=gem model.freeze=backbone \
    model.tta_rotations=4 loss=multi_similarity miner=multi_similarity optimizer=adamw scheduler=cosine \
    optimized_metric=open_val/loo_1nn_acc trainer.max_epochs=4 trainer.check_val_every_n_epoch=4 \
    hydra.run.dir=$OUT/head_gem_rot4
python experiments/open_set_radiolaria/table.py $OUT > experiments/open_set_radiolaria/results.md

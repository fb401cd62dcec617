#!/usr/bin/env bash
# The whole GPU check in one go on a bare GPU machine (one H100/H200, a ~15-minute slot with start-up): the carried
# wheels installed aside, the CUDA tests, `make bench-gpu`, and an Endless-Forams-scale `closed_set` run (27.8k
# generated images at 224 px) that prints its epoch times. Every result lands in $OUT (default logs/device_check);
# bench.json is rewritten after each phase, so a time limit keeps what was measured.
#   here, once (needs the package registry): make wheels        -> .whl/ (~45 MB; the tree sent must stay < 64 MiB)
#   on the GPU (device tool): bash experiments/speed/device_check.sh   with carry [".whl"], OUT=$OUT
#   dry run on a CPU: bash experiments/speed/device_check.sh --quick   (small library, CPU, a few steps)
set -uo pipefail
QUICK=${1:-}
OUT=${OUT:-logs/device_check}
PY=${PY:-python3}
mkdir -p "$OUT"
if [ -d .whl ] && ! $PY -c "import hydra, pytorch_metric_learning, faiss, kornia" 2>/dev/null; then
  SITE=$(mktemp -d)/site
  $PY -m pip install -q --no-index --no-deps --target "$SITE" .whl/*.whl || exit 1
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" FORAMS_OFFLINE=1 WANDB_MODE=offline
export FORAMS_CACHE=${FORAMS_CACHE:-$OUT/cache}
step() { echo "== $1 ($(date +%T))" | tee -a "$OUT/steps.txt"; }
step "machine"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$OUT/gpu.txt"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/gpu.txt"

step "CUDA tests (tests/test_gpu.py)"
timeout 300 $PY -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -15 | tee "$OUT/tests.txt"

if [ "$QUICK" = "--quick" ]; then
  step "bench --quick on the CPU"
  timeout 600 $PY experiments/speed/bench.py --quick --out "$OUT/bench" trainer=cpu data.num_workers=2
  TRAIN="data=synthetic trainer=cpu trainer.max_epochs=1 +trainer.limit_train_batches=3"
else
  step "make bench-gpu"
  timeout 360 make bench-gpu PY="$PY" BENCH_OUT="$OUT/bench"
  TRAIN="data=synthetic_ef trainer=gpu model.compile=true data.cache=true data.gpu_augment=true data.num_workers=16
    data.eval_batch_size=512 data.sampler.p=32 trainer.max_epochs=2"
fi

step "closed_set end to end ($TRAIN)"
timeout 900 $PY -m forams_lightning.train +experiment=closed_set $TRAIN logger=csv callbacks.morphospace=null \
  hydra.run.dir="$OUT/closed_set" > "$OUT/closed_set.log" 2>&1
grep -E "progress_log|runs\]|error" "$OUT/closed_set.log" | tee "$OUT/epochs.txt"
step "done"

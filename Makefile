PY ?= .venv/bin/python

.PHONY: install browser lint test test-slow train bench bench-gpu clean

install:  ## create .venv and install the package (editable) with its test extras
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"

browser:  ## Debian's chromium for the review.html browser test (skipped without it); needs root and apt
	command -v chromium >/dev/null || { test "$$(id -u)" -eq 0 && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
	  || echo "chromium not installed: tests/test_reference.py will skip its browser test"

lint:  ## pyflakes/pycodestyle/isort rules, 120 columns (pyproject.toml [tool.ruff]); CI runs it before the tests
	$(PY) -m ruff check forams_lightning tests experiments

test:  ## the default suite (CI runs this)
	$(PY) -m pytest -q

test-slow:  ## long tests (marked `slow`), kept out of CI's default suite
	$(PY) -m pytest -q -m slow || test $$? -eq 5

train:  ## the paper's closed-set recipe on the embedded synthetic library
	$(PY) -m forams_lightning.train +experiment=closed_set

bench:  ## speed ratios on this machine (CPU) -> experiments/speed/bench.{json,md}
	FORAMS_OFFLINE=1 $(PY) experiments/speed/bench.py --out experiments/speed trainer=cpu

bench-gpu:  ## the same on one GPU: ResNet-50, 224 px, bf16, channels-last, compiled, decoded cache, GPU augmentation
	FORAMS_OFFLINE=1 $(PY) experiments/speed/bench.py --out logs/bench-gpu --compile --steps 60 --warmup 15 \
	  trainer=gpu model.backbone.name=resnet50 data.image_size=224 data.synthetic.image_size=512 \
	  data.sampler.p=32 data.sampler.k=4 data.cache=true data.gpu_augment=true data.num_workers=8 \
	  data.eval_batch_size=512

clean:
	rm -rf logs .pytest_cache

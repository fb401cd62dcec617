"""Speed benchmark: the ratios that say whether the framework costs anything, measured in one run.

    python experiments/speed/bench.py [--out DIR] [--steps N] [--warmup N] [--repeats N] [--compile] [--quick]
                                      [overrides ...]

Overrides are those of `python -m forams_lightning.train` (the real composed config is used), e.g.
``trainer=gpu model.backbone.name=resnet50 data.image_size=224 data.sampler.p=32 data.sampler.k=4``.
Phases, each printed as one line when done and written into bench.json at once (a run stopped by a time limit keeps
what it measured):
  (a) training images/s of the Lightning pipeline (Trainer.fit, P×K loader, miner, loss, logging) vs a plain PyTorch
      loop doing the same work on the same batches (data loading included), and vs a plain loop on one batch kept on
      the device (no data loading: the ceiling). Each loop builds its model once (with --compile: compiles once) and
      the repeats are interleaved; ratios are medians of the paired repeats.
  (b) evaluation as a share of an Endless Forams-scale epoch (19.4k training images to train on, the same 19.4k as
      the gallery + 4.2k validation queries to embed, FAISS 5-NN): inference images/s measured here, kNN timed at
      that scale (FAISS as this project does vs scikit-learn as the paper's code did);
  (c) data loading images/s (no model): decoding files vs the decoded-image cache, with CPU augmentation and with
      the augmentation left to the GPU (data.gpu_augment);
  (d) on a CPU: embedding and training-step images/s in NCHW fp32 (the package before) against channels-last fp32
      and channels-last bf16 autocast, and the embedding of an open_set library (`cpu_paths.py`).
--quick: a first look (few steps, one repeat, few loader batches). Quote the ratios: absolute speeds depend on the
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
EF_IMAGES, EF_SPECIES, EF_DIM = 27_729, 35, 128
EF_TRAIN, EF_VAL = int(0.7 * EF_IMAGES), int(0.15 * EF_IMAGES)  # the default 70/15/15 split


def compose(overrides: list[str], out: Path):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = hydra_compose("train", overrides=["logger=none", "callbacks=none", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.data.output_dir = None
    return cfg


def build(cfg):
    from hydra.utils import instantiate

    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.setup("fit")
    model = instantiate(cfg.model, loss=cfg.loss, miner=cfg.miner, optimizer=cfg.optimizer, scheduler=None,
                        num_classes=dm.num_classes)
    return dm, model


class NoTrainer:
    """What the data module asks of its trainer outside Lightning: one process, training (for GPU augmentation)."""
    world_size, global_rank, training = 1, 0, True


class StepTimer:
    """Wall time from the end of the warm-up steps to the end of the last step (CUDA synchronised)."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.steps = warmup, None, 0

    def step(self, device) -> None:
        self.steps += 1
        if self.steps == self.warmup:
            _sync(device)
            self.start = time.perf_counter()

    def seconds(self, device) -> float:
        _sync(device)
        return time.perf_counter() - self.start


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _batch(dm) -> int:
    return dm.sampler_options.get("p", 16) * dm.sampler_options.get("k", 4)


class LightningLoop:
    """Trainer.fit for warm-up + steps, on one model and data module kept across repeats."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.dm, self.model = build(cfg)
        self.device = "cpu"

    def images_per_s(self, steps: int, warmup: int) -> float:
        import pytorch_lightning as pl
        from hydra.utils import instantiate

        timer = StepTimer(warmup)

        class Timing(pl.Callback):
            def on_train_batch_end(self, trainer, pl_module, *args):
                timer.step(pl_module.device)

        trainer = instantiate(self.cfg.trainer, max_epochs=None, max_steps=warmup + steps, limit_val_batches=0,
                              logger=False, enable_checkpointing=False, enable_progress_bar=False,
                              enable_model_summary=False, callbacks=[Timing()], num_sanity_val_steps=0)
        pl.seed_everything(0)
        trainer.fit(self.model, datamodule=self.dm)
        self.device = str(self.model.device)
        return steps * _batch(self.dm) / timer.seconds(self.model.device)


class PlainLoop:
    """The same work without Lightning: forward, mining, loss, backward, optimiser step, on one model (compiled once)
    for every call. `resident`: one batch kept on the device and reused, i.e. no data loading at all (the ceiling a
    training loop can reach)."""

    def __init__(self, cfg, device: str):
        self.dm, self.model = build(cfg)
        self.dm.trainer = NoTrainer()
        self.device = torch.device(device)
        self.model.to(self.device).train()
        self.model.backbone.resolve_channels_last()
        if self.model.compile_backbone:
            self.model.backbone.compile()
        optimizer = self.model.configure_optimizers()
        self.optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
        self.bf16 = str(cfg.trainer.get("precision", "32-true")).startswith("bf16")

    def images_per_s(self, steps: int, warmup: int, resident: bool = False) -> float:
        model, dm, device = self.model, self.dm, self.device
        timer = StepTimer(warmup)
        torch.manual_seed(0)
        loader = dm.train_dataloader()
        if resident:
            first = next(iter(loader))
            loader = [first] * (warmup + steps)
        done = 0
        while done < warmup + steps:
            for images, labels, index in loader:
                images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
                images, labels, index = dm.on_after_batch_transfer((images, labels, index), 0)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16):
                    embeddings, trunk = model.head(model.backbone(images))
                    logits = model.classifier(trunk) if model.classifier is not None else None
                    indices = model.miner(embeddings, labels) if model.miner is not None else None
                    loss = model.loss(embeddings, labels, indices, logits)["loss"]
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                timer.step(device)
                done += 1
                if done == warmup + steps:
                    break
        return steps * _batch(dm) / timer.seconds(device)


def inference_images_per_s(loop: PlainLoop, batches: int) -> float:
    """Evaluation embedding speed: the gallery loader (evaluation transforms), eval mode, inference mode."""
    model, device = loop.model, loop.device
    model.eval()
    loader = loop.dm.val_dataloader()[0]
    seen, n, start = 0, 0, None
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=loop.bf16):
        while seen < batches + 1:
            for images, *_ in loader:
                model(loop.dm.as_float(images.to(device, non_blocking=True)))
                seen += 1
                if seen == 1:  # after the workers' start-up and the first (compiling) batch
                    _sync(device)
                    start = time.perf_counter()
                else:
                    n += len(images)
                if seen == batches + 1:
                    break
    _sync(device)
    model.train()
    return n / (time.perf_counter() - start)


def knn_seconds(repeats: int = 3) -> dict[str, float]:
    """kNN identification + scores at Endless Forams scale: FAISS (this project) vs scikit-learn (the paper)."""
    from sklearn.neighbors import KNeighborsClassifier

    from forams_lightning.metrics.classification import identification_scores
    from forams_lightning.metrics.knn import knn_identify

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(EF_SPECIES, EF_DIM)).astype(np.float32)
    gallery_y, query_y = rng.integers(0, EF_SPECIES, EF_TRAIN), rng.integers(0, EF_SPECIES, EF_VAL)
    gallery = centres[gallery_y] + rng.normal(scale=2.0, size=(EF_TRAIN, EF_DIM)).astype(np.float32)
    queries = centres[query_y] + rng.normal(scale=2.0, size=(EF_VAL, EF_DIM)).astype(np.float32)

    def faiss_run():
        found = knn_identify(gallery, gallery_y, queries, 5, metric="l2")
        return identification_scores(query_y, found.prediction, EF_SPECIES)["knn_acc"]

    def sklearn_run():
        return float(np.mean(KNeighborsClassifier(5).fit(gallery, gallery_y).predict(queries) == query_y))

    result = {}
    for name, run in (("faiss", faiss_run), ("sklearn", sklearn_run)):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        result[f"{name}_seconds"] = float(np.median(times))
    return result


def loading_images_per_s(cfg, cache: bool, gpu_augment: bool, batches: int, cache_dir: Path) -> float:
    """Training loader throughput with no model: CPU augmentation, or (`gpu_augment`) prepared uint8 images only."""
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg.data.cache, cfg.data.gpu_augment = cache, gpu_augment
        cfg.data.cache_dir = str(cache_dir)
    dm, _ = build(cfg)  # builds the cache (not timed: it is built once per library)
    dm.trainer = NoTrainer()
    loader = dm.train_dataloader()
    seen, n, start = 0, 0, None
    while seen < batches + 2:
        for images, *_ in loader:
            seen += 1
            if seen == 2:  # after the workers' start-up
                start = time.perf_counter()
            elif seen > 2:
                n += len(images)
            if seen == batches + 2:
                break
    return n / (time.perf_counter() - start)


def paired_median(a: list[float], b: list[float]) -> float:
    """Median of the ratios within each repeat: a machine that speeds up or slows down between repeats (caches,
    clocks, other load) shifts both sides of a pair alike."""
    return float(np.median([x / y for x, y in zip(a, b)]))


class Report:
    """bench.json rewritten after every phase, and one printed line per phase."""

    def __init__(self, out: Path, header: dict):
        self.out, self.result, self.start = out, dict(header), time.perf_counter()

    def phase(self, name: str, values: dict, line: str) -> None:
        self.result[name] = {**self.result.get(name, {}), **values}
        (self.out / "bench.json").write_text(json.dumps(self.result, indent=2) + "\n")
        print(f"[{time.perf_counter() - self.start:6.0f} s] {line}", flush=True)

    def finish(self) -> None:
        (self.out / "bench.md").write_text(markdown(self.result))
        print(markdown(self.result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="logs/bench")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of (a); medians reported")
    parser.add_argument("--loading-batches", type=int, default=20)
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbone in both loops")
    parser.add_argument("--quick", action="store_true", help="a first look: 8 steps, 1 repeat, 5 loader batches")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: train,eval,loading,cpu")
    args, overrides = parser.parse_known_args()
    if args.quick:
        args.steps, args.warmup, args.repeats, args.loading_batches = 8, 2, 1, 5
    skip = {s for s in args.skip.split(",") if s}
    os.environ.setdefault("FORAMS_OFFLINE", "1")
    from forams_lightning.console import quiet_stack

    quiet_stack()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overrides += ["model.compile=true"] if args.compile else []
    report = Report(out, {"date": date.today().isoformat(), "host": platform.node(), "cpus": os.cpu_count(),
                          "torch": torch.__version__, "overrides": overrides, "quick": args.quick,
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None})
    plain = None
    if "train" not in skip:
        lightning = LightningLoop(compose(overrides, out))
        runs: dict[str, list[float]] = {"lightning": [], "plain": [], "resident": []}
        for repeat in range(args.repeats):
            runs["lightning"].append(lightning.images_per_s(args.steps, args.warmup))
            if plain is None:  # built once the Lightning loop has shown which device the trainer uses
                plain = PlainLoop(compose(overrides, out), lightning.device)
            runs["plain"].append(plain.images_per_s(args.steps, args.warmup))
            runs["resident"].append(plain.images_per_s(args.steps, args.warmup, resident=True))
            values = {"device": lightning.device, "repeats": runs,
                      **{f"{k}_images_per_s": float(np.median(v)) for k, v in runs.items()},
                      "ratio_lightning_to_plain": paired_median(runs["lightning"], runs["plain"]),
                      "ratio_lightning_to_resident_batch": paired_median(runs["lightning"], runs["resident"])}
            report.phase("train", values, f"(a) repeat {repeat + 1}/{args.repeats}: Lightning "
                         f"{runs['lightning'][-1]:.1f} img/s, plain {runs['plain'][-1]:.1f}, resident batch "
                         f"{runs['resident'][-1]:.1f}; Lightning / plain {values['ratio_lightning_to_plain']:.3f}")
    if "eval" not in skip:
        knn = knn_seconds()
        values = {**knn, "faiss_speedup": knn["sklearn_seconds"] / knn["faiss_seconds"]}
        if plain is not None:
            rate = inference_images_per_s(plain, max(3, args.loading_batches))
            train_s = EF_TRAIN / report.result["train"]["lightning_images_per_s"]
            eval_s = (EF_TRAIN + EF_VAL) / rate + knn["faiss_seconds"]
            values.update(inference_images_per_s=rate, ef_train_seconds=train_s, ef_eval_seconds=eval_s,
                          eval_share_of_epoch=eval_s / (train_s + eval_s),
                          faiss_share_of_epoch=knn["faiss_seconds"] / (train_s + eval_s))
        report.phase("eval", values, f"(b) kNN at Endless Forams scale: FAISS {knn['faiss_seconds']:.2f} s, "
                     f"scikit-learn {knn['sklearn_seconds']:.2f} s"
                     + (f"; evaluation {values['eval_share_of_epoch']:.1%} of an epoch" if plain else ""))
    if "loading" not in skip:
        # Decoding cost depends on the files: the synthetic library is regenerated as 512 px JPEGs letterboxed to
        # 224 px, like Endless Forams photographs; real data (data=... data.root=...) is read as it is.
        cfg = compose(overrides, out)
        loading = overrides + (["data.synthetic.image_size=512", "data.image_size=224"] if cfg.data.get("synthetic")
                               else [])
        report.phase("loading", {"overrides": loading}, "(c) loading: building the decoded cache")
        with tempfile.TemporaryDirectory() as tmp:
            for where in ("cpu_augment", "gpu_augment"):
                rates = {source: loading_images_per_s(compose(loading, out), source == "cache", where == "gpu_augment",
                                                      args.loading_batches, Path(tmp)) for source in ("files", "cache")}
                report.phase("loading", {where: {**{f"{k}_images_per_s": v for k, v in rates.items()},
                                                 "cache_speedup": rates["cache"] / rates["files"]}},
                             f"(c) loading, {where}: files {rates['files']:.0f} img/s, cache {rates['cache']:.0f}")
    if "cpu" not in skip and not torch.cuda.is_available():
        import cpu_paths

        cfg = compose(overrides, out)
        dm, model = build(cfg)
        values = cpu_paths.measure(model, int(cfg.data.image_size), _batch(dm), args.repeats)
        report.phase("cpu", values, "(d) CPU paths: " + "; ".join(
            f"{work} {v['ratio_to_nchw_fp32']['channels_last_fp32']:.2f}× / "
            f"{v['ratio_to_nchw_fp32']['channels_last_bf16']:.2f}×" for work, v in values.items()))
    report.finish()


def markdown(r: dict) -> str:
    lines = [f"Measured {r['date']} on {r['gpu'] or 'CPU'} ({r['cpus']} CPU cores), torch {r['torch']}"
             f"{' (--quick)' if r.get('quick') else ''}; overrides: `{' '.join(r['overrides']) or '(defaults)'}`",
             "", "| measure | value |", "| --- | --- |"]
    if "train" in r:
        t = r["train"]
        lines += [f"| (a) training images/s, Lightning pipeline / plain PyTorch loop ({t['device']}, median of "
                  f"{len(t['repeats']['lightning'])} paired repeats) | "
                  f"**{t['ratio_lightning_to_plain']:.3f}** ({t['lightning_images_per_s']:.1f} / "
                  f"{t['plain_images_per_s']:.1f}) |",
                  "| (a) training images/s, Lightning pipeline with its data loading / plain loop on one batch kept on "
                  f"the device | **{t['ratio_lightning_to_resident_batch']:.3f}** ({t['lightning_images_per_s']:.1f} / "
                  f"{t['resident_images_per_s']:.1f}) |"]
    if "eval" in r:
        k = r["eval"]
        if "eval_share_of_epoch" in k:
            lines += [f"| (b) evaluation (embed a 19.4k gallery + 4.2k queries at {k['inference_images_per_s']:.0f} "
                      f"img/s, FAISS 5-NN) as a share of an Endless Forams epoch | **{k['eval_share_of_epoch']:.1%}** "
                      f"({k['ef_eval_seconds']:.0f} s of {k['ef_eval_seconds'] + k['ef_train_seconds']:.0f} s) |"]
        lines += [f"| (b) kNN scoring at that scale: scikit-learn time / FAISS time | **{k['faiss_speedup']:.1f}×** "
                  f"({k['sklearn_seconds']:.2f} s / {k['faiss_seconds']:.2f} s) |"]
    for where, d in r.get("loading", {}).items():
        if where == "overrides" or "cache_speedup" not in d:
            continue
        what = "augmenting on the CPU" if where == "cpu_augment" else "no CPU augmentation (data.gpu_augment=true)"
        lines += [f"| (c) data loading images/s, {what}: decoded cache / decoding files | "
                  f"**{d['cache_speedup']:.2f}×** ({d['cache_images_per_s']:.0f} / {d['files_images_per_s']:.0f}) |"]
    if "cpu" in r:
        import cpu_paths

        lines += cpu_paths.markdown_rows(r["cpu"])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

"""Speed benchmark: the ratios that say whether the framework costs anything, measured in one run.

    python experiments/speed/bench.py [--out DIR] [--steps N] [--warmup N] [--compile] [overrides ...]

Overrides are those of `python -m forams_lightning.train` (the real composed config is used), e.g.
``trainer=gpu model.backbone.name=resnet50 data.image_size=224 data.sampler.p=32 data.sampler.k=4``.
Measures, on whatever device the trainer preset names:
  (a) training images/s of the Lightning pipeline (Trainer.fit, P×K loader, miner, loss, logging) vs a plain
      PyTorch loop doing the same work (same model, batches, loss, optimiser, autocast), data loading included;
  (b) the evaluation callback's kNN scoring at Endless Forams scale (27.7k gallery, 6.9k queries, 128-d, 35
      species): FAISS as this project does vs scikit-learn's KNeighborsClassifier as the paper's code did, each as a
      share of one training epoch over 27.7k images at the pipeline's speed from (a);
  (c) data loading images/s (no model) decoding files vs reading the decoded-image cache.
Writes bench.json and bench.md into --out; quote the ratios: absolute times depend on the machine.
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
EF_GALLERY, EF_QUERIES, EF_SPECIES, EF_DIM = 27_729, 6_903, 35, 128


def compose(overrides: list[str], out: Path):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import open_dict

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

    def step(self, device: torch.device) -> None:
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


def lightning_images_per_s(cfg, steps: int, warmup: int) -> tuple[float, str]:
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    dm, model = build(cfg)
    timer = StepTimer(warmup)

    class Timing(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            timer.step(pl_module.device)

    trainer = instantiate(cfg.trainer, max_epochs=None, max_steps=warmup + steps, limit_val_batches=0,
                          logger=False, enable_checkpointing=False, enable_progress_bar=False,
                          enable_model_summary=False, callbacks=[Timing()], num_sanity_val_steps=0)
    pl.seed_everything(0)
    trainer.fit(model, datamodule=dm)
    batch = dm.sampler_options.get("p", 16) * dm.sampler_options.get("k", 4)
    return steps * batch / timer.seconds(model.device), str(model.device)


def plain_images_per_s(cfg, steps: int, warmup: int, device: str, resident: bool = False) -> float:
    """The same work without Lightning: forward, mining, loss, backward, optimiser step. `resident`: one batch kept
    on the device and reused, i.e. no data loading at all (the ceiling a training loop can reach)."""
    dm, model = build(cfg)
    dm.trainer = NoTrainer()
    device = torch.device(device)
    model.to(device).train()
    model.backbone.resolve_channels_last(device.type == "cuda")
    if model.compile_backbone:
        model.backbone.compile()
    optimizer = model.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    precision = str(cfg.trainer.get("precision", "32-true"))
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision.startswith("bf16"))
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
            with autocast:
                embeddings, trunk = model.head(model.backbone(images))
                logits = model.classifier(trunk) if model.classifier is not None else None
                indices = model.miner(embeddings, labels) if model.miner is not None else None
                loss = model.loss(embeddings, labels, indices, logits)["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            timer.step(device)
            done += 1
            if done == warmup + steps:
                break
    batch = dm.sampler_options.get("p", 16) * dm.sampler_options.get("k", 4)
    return steps * batch / timer.seconds(device)


def train_summary(runs: dict[str, list[float]], device: str) -> dict:
    """Ratios are medians of the ratios within each repeat: a machine that speeds up or slows down between repeats
    (caches, clocks, other load) shifts both sides of a pair alike."""
    def paired(a, b):
        return float(np.median([x / y for x, y in zip(runs[a], runs[b])]))

    return {"device": device, "repeats": runs,
            **{f"{k}_images_per_s": float(np.median(runs[key])) for k, key in
               (("lightning", "lightning"), ("plain", "plain"), ("plain_resident_batch", "resident"))},
            "ratio_lightning_to_plain": paired("lightning", "plain"),
            "ratio_lightning_to_resident_batch": paired("lightning", "resident")}


def knn_seconds(repeats: int = 3) -> dict[str, float]:
    """kNN identification + scores at Endless Forams scale: FAISS (this project) vs scikit-learn (the paper)."""
    from sklearn.neighbors import KNeighborsClassifier

    from forams_lightning.metrics.classification import identification_scores
    from forams_lightning.metrics.knn import knn_identify

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(EF_SPECIES, EF_DIM)).astype(np.float32)
    gallery_y = rng.integers(0, EF_SPECIES, EF_GALLERY)
    query_y = rng.integers(0, EF_SPECIES, EF_QUERIES)
    gallery = centres[gallery_y] + rng.normal(scale=2.0, size=(EF_GALLERY, EF_DIM)).astype(np.float32)
    queries = centres[query_y] + rng.normal(scale=2.0, size=(EF_QUERIES, EF_DIM)).astype(np.float32)

    def faiss_run():
        found = knn_identify(gallery, gallery_y, queries, 5, "l2")
        return identification_scores(query_y, found.prediction, EF_SPECIES)["knn_acc"]

    def sklearn_run():
        prediction = KNeighborsClassifier(5).fit(gallery, gallery_y).predict(queries)
        return float(np.mean(prediction == query_y))

    result = {}
    for name, run in (("faiss", faiss_run), ("sklearn", sklearn_run)):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            acc = run()
            times.append(time.perf_counter() - start)
        result[f"{name}_seconds"], result[f"{name}_acc"] = float(np.median(times)), float(acc)
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
    seen, start = 0, None
    while seen < batches + 2:
        for images, *_ in loader:
            seen += 1
            if seen == 2:  # after the workers' start-up
                start, n = time.perf_counter(), 0
            elif seen > 2:
                n += len(images)
            if seen == batches + 2:
                break
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="logs/bench")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of (a); medians reported")
    parser.add_argument("--loading-batches", type=int, default=20)
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbone in both loops")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: train,knn,loading")
    args, overrides = parser.parse_known_args()
    args.skip = [s for s in args.skip.split(",") if s]
    os.environ.setdefault("FORAMS_OFFLINE", "1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overrides += ["model.compile=true"] if args.compile else []
    cfg = compose(overrides, out)
    result = {"date": date.today().isoformat(), "host": platform.node(), "cpus": os.cpu_count(),
              "torch": torch.__version__, "overrides": overrides,
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    if "train" not in args.skip:
        # Interleaved repeats, medians: on a busy or small machine one pass of each is too noisy to compare.
        runs = {"lightning": [], "plain": [], "resident": []}
        for _ in range(args.repeats):
            lightning, device = lightning_images_per_s(compose(overrides, out), args.steps, args.warmup)
            runs["lightning"].append(lightning)
            runs["plain"].append(plain_images_per_s(compose(overrides, out), args.steps, args.warmup, device))
            runs["resident"].append(plain_images_per_s(compose(overrides, out), args.steps, args.warmup, device,
                                                       resident=True))
        result["train"] = train_summary(runs, device)
    if "knn" not in args.skip:
        knn = knn_seconds()
        result["knn"] = {**knn, "faiss_speedup": knn["sklearn_seconds"] / knn["faiss_seconds"]}
        if "train" in result:
            epoch = EF_GALLERY / result["train"]["lightning_images_per_s"]
            result["knn"].update(epoch_seconds_at_ef_scale=epoch, faiss_share_of_epoch=knn["faiss_seconds"] / epoch,
                                 sklearn_share_of_epoch=knn["sklearn_seconds"] / epoch)
    if "loading" not in args.skip:
        # Decoding cost depends on the files: the synthetic library is regenerated as 512 px JPEGs letterboxed to
        # 224 px, like Endless Forams photographs; real data (data=... data.root=...) is read as it is.
        loading = overrides + (["data.synthetic.image_size=512", "data.image_size=224"] if cfg.data.get("synthetic")
                               else [])
        result["loading"] = {"overrides": loading}
        with tempfile.TemporaryDirectory() as tmp:
            for where in ("cpu_augment", "gpu_augment"):
                rates = {source: loading_images_per_s(compose(loading, out), source == "cache", where == "gpu_augment",
                                                      args.loading_batches, Path(tmp)) for source in ("files", "cache")}
                result["loading"][where] = {**{f"{k}_images_per_s": v for k, v in rates.items()},
                                            "cache_speedup": rates["cache"] / rates["files"]}
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "bench.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    lines = [f"Measured {r['date']} on {r['gpu'] or 'CPU'} ({r['cpus']} CPU cores), torch {r['torch']}; "
             f"overrides: `{' '.join(r['overrides']) or '(defaults)'}`", "", "| measure | value |", "| --- | --- |"]
    if "train" in r:
        t = r["train"]
        lines += [f"| (a) training images/s, Lightning pipeline / plain PyTorch loop ({t['device']}, median of "
                  f"{len(t['repeats']['lightning'])} paired repeats) | "
                  f"**{t['ratio_lightning_to_plain']:.3f}** ({t['lightning_images_per_s']:.1f} / "
                  f"{t['plain_images_per_s']:.1f}) |",
                  "| (a) training images/s, Lightning pipeline with its data loading / plain loop on one batch kept on "
                  f"the device | **{t['ratio_lightning_to_resident_batch']:.3f}** ({t['lightning_images_per_s']:.1f} / "
                  f"{t['plain_resident_batch_images_per_s']:.1f}) |"]
    if "knn" in r:
        k = r["knn"]
        lines += [f"| (b) kNN scoring at Endless Forams scale, FAISS speed-up (scikit-learn time / FAISS time) | "
                  f"**{k['faiss_speedup']:.1f}×** ({k['sklearn_seconds']:.2f} s / {k['faiss_seconds']:.2f} s) |"]
        if "faiss_share_of_epoch" in k:
            lines += [f"| (b) kNN scoring as a share of one 27.7k-image training epoch: FAISS / scikit-learn | "
                      f"**{k['faiss_share_of_epoch']:.2%}** / {k['sklearn_share_of_epoch']:.2%} |"]
    for where, d in r.get("loading", {}).items():
        if where == "overrides":
            continue
        what = "augmenting on the CPU" if where == "cpu_augment" else "no CPU augmentation (data.gpu_augment=true)"
        lines += [f"| (c) data loading images/s, {what}: decoded cache / decoding files | "
                  f"**{d['cache_speedup']:.2f}×** ({d['cache_images_per_s']:.0f} / {d['files_images_per_s']:.0f}) |"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

"""(d) The CPU paths, as `make bench` measures them: images/s of embedding (identify-style inference) and of a training
step in the layout and precision the package used before (NCHW, fp32) against channels-last fp32 and channels-last
with bfloat16 autocast; and the embedding of an `open_set` library (two networks at their pretraining sizes, feature
stages, 4 quarter turns). The variants are interleaved in one process, the best of each repeat kept, and the ratios
are medians of the paired repeats.
"""

from __future__ import annotations

import time

import numpy as np
import torch

# name: (channels-last, bfloat16 autocast)
VARIANTS = {"nchw_fp32": (False, False), "channels_last_fp32": (True, False), "channels_last_bf16": (True, True)}
OPEN_SET_NETWORK = {"backbone": {"name": ["efficientnet_lite0", "efficientnet_lite1"], "layers": [3, 4],
                                 "input_scale": [1.0, 240 / 224], "pretrained": False},
                    "head": {"embedding_dim": 256, "normalize": True}, "tta_rotations": 4}


def laid_out(module: torch.nn.Module, channels_last: bool) -> torch.nn.Module:
    from forams_lightning.models.backbones import Backbone, resolve_layouts

    for backbone in (m for m in module.modules() if isinstance(m, Backbone)):
        backbone.channels_last = channels_last
    return resolve_layouts(module)


def _best_rate(run, images: int, iters: int) -> float:
    run()  # warm-up: oneDNN builds its kernels for the layout on the first call
    best = np.inf
    for _ in range(iters):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return images / best


def inference_rate(embedder, images: torch.Tensor, variant: str, iters: int) -> float:
    channels_last, bf16 = VARIANTS[variant]
    embedder = laid_out(embedder.eval(), channels_last)

    def run():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            embedder(images)

    return _best_rate(run, len(images), iters)


def training_rate(model, images: torch.Tensor, labels: torch.Tensor, variant: str, iters: int) -> float:
    """One optimiser step of the metric-learning module (forward, mining, loss, backward, AdamW) on a resident
    P×K batch: the compute of a training step, without data loading."""
    channels_last, bf16 = VARIANTS[variant]
    model = laid_out(model.train(), channels_last)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)

    def run():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            embeddings, trunk = model.head(model.backbone(images))
            indices = model.miner(embeddings, labels) if model.miner is not None else None
            loss = model.loss(embeddings, labels, indices, None)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return _best_rate(run, len(images), iters)


def measure(model, image_size: int, batch: int, repeats: int, iters: int = 3) -> dict:
    """Every variant of every kind of work, interleaved `repeats` times; `model` the bench's composed module."""
    from forams_lightning.models.embedder import Embedder, build_embedder

    torch.manual_seed(0)
    embedder, open_set = Embedder(model.backbone, model.head), build_embedder(OPEN_SET_NETWORK)
    works = {
        f"embed_{image_size}px_b{batch}": lambda v: inference_rate(embedder, torch.rand(batch, 3, image_size,
                                                                                         image_size), v, iters),
        "embed_224px_b32": lambda v: inference_rate(embedder, torch.rand(32, 3, 224, 224), v, iters),
        f"train_step_{image_size}px_b{batch}": lambda v: training_rate(
            model, torch.rand(batch, 3, image_size, image_size), torch.arange(batch) % max(2, batch // 4), v, iters),
        "embed_open_set_library_224px_b16": lambda v: inference_rate(open_set, torch.rand(16, 3, 224, 224), v,
                                                                     max(1, iters - 1)),
    }
    rates = {work: {variant: [] for variant in VARIANTS} for work in works}
    for _ in range(repeats):
        for work, rate in works.items():
            for variant in VARIANTS:
                rates[work][variant].append(rate(variant))
    return {work: {"images_per_s": {v: float(np.median(r)) for v, r in per.items()},
                   "ratio_to_nchw_fp32": {v: float(np.median(np.array(r) / np.array(per["nchw_fp32"])))
                                          for v, r in per.items()}}
            for work, per in rates.items()}


def markdown_rows(cpu: dict) -> list[str]:
    rows = []
    for work, values in cpu.items():
        rate, ratio = values["images_per_s"], values["ratio_to_nchw_fp32"]
        rows.append(f"| (d) {work.replace('_', ' ')}: images/s NCHW fp32 → channels-last fp32 → channels-last bf16 | "
                    f"{rate['nchw_fp32']:.1f} → {rate['channels_last_fp32']:.1f} "
                    f"(**{ratio['channels_last_fp32']:.2f}×**) → {rate['channels_last_bf16']:.1f} "
                    f"(**{ratio['channels_last_bf16']:.2f}×**) |")
    return rows

"""Generalised-mean (GeM) pooling, which the CNN image-retrieval literature prefers to average pooling.

On the radiolaria test species with frozen ImageNet EfficientNet-Lite0 features, leave-one-out 1-NN went from 0.609
(average) to 0.645 (GeM, p=3).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class GeM(nn.Module):
    """(mean over positions of x^p)^(1/p) per channel; p=1 is average, p->inf max pooling. Output (B, C, 1, 1)."""

    def __init__(self, p: float = 3.0, learnable: bool = False, eps: float = 1e-6):
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(p)), requires_grad=learnable)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=self.eps).pow(self.p).mean((-2, -1), keepdim=True).pow(1.0 / self.p)


def replace_pooling(net: nn.Module, pool: str) -> None:
    """Swap the global pooling of a torchvision ResNet-style (`avgpool`) or timm (`global_pool`) model."""
    layers: dict[str, Callable[[], nn.Module]] = {"gem": GeM, "max": lambda: nn.AdaptiveMaxPool2d(1),
                                                 "avg": lambda: nn.AdaptiveAvgPool2d(1)}
    layer = layers.get(pool)
    if layer is None:
        raise ValueError(f"model.backbone.pool must be default, avg, max or gem (got {pool!r})")
    if hasattr(net, "global_pool"):  # timm: keep whether the old pool flattened (MobileNetV3's conv_head needs 4-D)
        flattens = isinstance(getattr(net.global_pool, "flatten", None), nn.Flatten)
        net.global_pool = nn.Sequential(layer(), nn.Flatten(1)) if flattens else layer()
    elif hasattr(net, "avgpool"):
        net.avgpool = layer()
    else:
        raise ValueError(f"cannot replace the pooling of {type(net).__name__}; use model.backbone.pool=default")

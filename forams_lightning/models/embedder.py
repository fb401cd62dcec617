"""The embedding network on its own (backbone -> head, rotation averaging): what training optimises and what a
reference library ships, so inference computes exactly the trained embedding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn


def rotation_average(forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                     rotations: int = 1) -> torch.Tensor:
    """Mean embedding over `rotations` quarter turns (shells and skeletons have no canonical orientation)."""
    return torch.stack([forward(torch.rot90(images, k, (2, 3))) for k in range(rotations)]).mean(0)


class Embedder(nn.Module):
    """[0, 1] RGB images (B, 3, H, W) -> embeddings (B, D). State dict keys: ``backbone.*``, ``head.*`` (the same
    as in the training checkpoint's LightningModule)."""

    def __init__(self, backbone: nn.Module, head: nn.Module, tta_rotations: int = 1):
        super().__init__()
        self.backbone, self.head, self.tta_rotations = backbone, head, tta_rotations

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return rotation_average(lambda x: self.head(self.backbone(x))[0], images, self.tta_rotations)


def embedder_spec(model_cfg) -> dict:
    """What rebuilds a run's embedding network from its `model` config (a reference library's manifest records it):
    ``{"backbone": {_target_...}, "head": {_target_..., _partial_}, "tta_rotations": int}``."""
    from omegaconf import OmegaConf

    spec = {"backbone": OmegaConf.to_container(model_cfg.backbone, resolve=True),
            "head": OmegaConf.to_container(model_cfg.head, resolve=True),
            "tta_rotations": int(model_cfg.get("tta_rotations", 1))}
    spec["backbone"]["pretrained"] = False  # the weights come from the checkpoint or the library
    return spec


def build_embedder(spec: dict) -> nn.Module:
    """The (untrained) network of a spec: an `Embedder`, or an `EmbeddingEnsemble` for ``{"members": [spec, ...]}``."""
    from hydra.utils import instantiate

    if "members" in spec:
        from forams_lightning.models.ensemble import EmbeddingEnsemble

        return EmbeddingEnsemble([build_embedder(member) for member in spec["members"]])
    backbone = instantiate(spec["backbone"], pretrained=False)
    return Embedder(backbone, instantiate(spec["head"])(in_features=backbone.num_features),
                    spec.get("tta_rotations", 1))


def load_embedders(runs: Sequence[tuple[Path, object]]) -> tuple[nn.Module, dict]:
    """(network, spec) of trained runs given as (checkpoint, run config) pairs: one run's `Embedder`, or the
    `EmbeddingEnsemble` of several."""
    members = []
    for ckpt, run in runs:
        spec = embedder_spec(run.model)
        embedder = build_embedder(spec)
        state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
        try:
            embedder.load_state_dict({k: v for k, v in state.items() if k.startswith(("backbone.", "head."))})
        except RuntimeError as error:
            raise ValueError(f"{ckpt} does not fit the model of its run's config.yaml: {error}") from error
        members.append((embedder, spec))
    if len(members) == 1:
        return members[0]
    from forams_lightning.models.ensemble import EmbeddingEnsemble

    return EmbeddingEnsemble([e for e, _ in members]), {"members": [spec for _, spec in members]}

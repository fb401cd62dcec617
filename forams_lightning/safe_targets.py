"""A run folder's `config.yaml` is data: before any command rebuilds a run from it (`eval`, `export`,
`morphospace`, rescoring), every `_target_` in it is checked against an allow-list, so a shared run folder cannot
make the reader's Python call what the sender chose (`logging.basicConfig` truncating a file, `subprocess.Popen`).

Allowed: classes of the package's model, data, loss, metric, evaluation and callback rooms, of torch's optimisers,
schedulers and layers, of pytorch-metric-learning, and Lightning's trainer, callbacks and loggers; and the package's
logger factory. Anything else, or a name outside those packages (which is never imported), is refused in one line
naming the key."""

from __future__ import annotations

import inspect
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

# Modules whose classes a saved config may name (checked on the class's own module, not only the name written).
CLASS_MODULES = ("forams_lightning.models.", "forams_lightning.losses.", "forams_lightning.metrics.",
                 "forams_lightning.evaluation.", "forams_lightning.callbacks.", "forams_lightning.data.",
                 "forams_lightning.sweep_summary", "torch.optim.", "torch.nn.modules.", "pytorch_metric_learning.",
                 "pytorch_lightning.callbacks.", "pytorch_lightning.loggers.", "pytorch_lightning.trainer.")
FUNCTIONS = ("forams_lightning.loggers.wandb_logger",)
# Only names under these packages are looked up at all (a lookup imports the module it names).
ROOTS = ("forams_lightning", "torch", "pytorch_metric_learning", "pytorch_lightning")


def check_saved_targets(config: DictConfig, path: str | Path) -> None:
    """Every `_target_` of a saved run config (`path`, for messages) allowed, else a ValueError naming the key."""
    try:
        plain = OmegaConf.to_container(config, resolve=True)
    except Exception as error:  # noqa: BLE001 - any interpolation that cannot be resolved: the file is damaged
        raise ValueError(f"{path}: a value cannot be resolved ({type(error).__name__}: "
                         f"{str(error).splitlines()[0][:120]})") from None
    for key, target in _targets(plain, ""):
        if not allowed_target(target):
            raise ValueError(f"{path}: {key}._target_={str(target)[:80]!r} is refused: a saved run config may name "
                             "only the package's own classes and known-safe ones of torch, Lightning and "
                             "pytorch-metric-learning (nothing in it is run otherwise)")


def allowed_target(target) -> bool:
    """Whether `target` (a dotted name) is on the allow-list (module docstring)."""
    if not isinstance(target, str) or target.split(".")[0] not in ROOTS:
        return False
    if target in FUNCTIONS:
        return True
    from hydra.utils import get_object

    try:
        found = get_object(target)
    except Exception:  # noqa: BLE001 - not importable: not something to build
        return False
    return inspect.isclass(found) and (found.__module__ + ".").startswith(CLASS_MODULES)


def _targets(node, key: str):
    """(key, target) of every node with a `_target_`, depth first."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield key or "<top>", node["_target_"]
        for name, value in node.items():
            yield from _targets(value, f"{key}.{name}" if key else str(name))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _targets(value, f"{key}[{i}]")

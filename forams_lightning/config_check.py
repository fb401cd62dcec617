"""Catch wrongly typed config values before anything runs, naming the key (`trainer.max_epochs=abc` would
otherwise fail deep inside Lightning with an unrelated message).

Every node with a `_target_` is checked against the type hints of its target's ``__init__``; only plain types
(int, float, bool, str and their optional/union forms) are checked, anything else is left to the target. An option
annotated with a TypedDict or a dataclass (e.g. `data.sampler: SamplerOptions`) is a closed set of keys: its values
are checked against the fields' hints and a key it does not define is refused.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing

from omegaconf import DictConfig, ListConfig, OmegaConf

_PLAIN = (bool, int, float, str, type(None))


def check_config_types(cfg: DictConfig) -> None:
    """Raise one ValueError naming every key whose value does not fit its target's annotation."""
    errors: list[str] = []
    _walk(cfg, "", errors)
    if errors:
        raise ValueError("wrong config value(s) or key(s):\n  " + "\n  ".join(errors))


def _walk(node, path: str, errors: list[str]) -> None:
    if isinstance(node, DictConfig):
        if "_target_" in node:
            errors += _check_node(node, path)
        for key in node:
            if not OmegaConf.is_missing(node, key):
                _walk(node[key], f"{path}.{key!s}" if path else str(key), errors)
    elif isinstance(node, ListConfig):
        for i, item in enumerate(node):
            _walk(item, f"{path}[{i}]", errors)


def _check_node(node: DictConfig, path: str) -> list[str]:
    from hydra.utils import get_object

    try:
        target = get_object(node._target_)
        hints = typing.get_type_hints(target.__init__ if inspect.isclass(target) else target)
    except Exception:  # noqa: BLE001 - unresolvable targets or hints: instantiate() will report them
        return []
    return _check_values(node, path, hints, closed=False)


def _check_values(node: DictConfig, path: str, hints: dict, closed: bool) -> list[str]:
    errors = []
    for key, value in node.items():
        if closed and key not in hints:
            errors.append(f"{path}.{key!s}: unknown key; known: {sorted(hints)}")
            continue
        schema = _schema(hints.get(key))
        if schema is not None and isinstance(value, DictConfig) and "_target_" not in value:  # else checked as a node
            errors += _check_values(value, f"{path}.{key!s}", typing.get_type_hints(schema), closed=True)
            continue
        allowed = _plain_types(hints.get(key))
        if allowed and not isinstance(value, (DictConfig, ListConfig)) and not _fits(value, allowed):
            names = " or ".join(sorted(t.__name__ if t is not type(None) else "null" for t in allowed))
            errors.append(f"{path}.{key!s}={value!r}: expected {names}")
    return errors


def _schema(hint) -> type | None:
    """The TypedDict or dataclass in a hint such as ``SamplerOptions | None``."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for candidate in typing.get_args(hint) if union else (hint,):
        if inspect.isclass(candidate) and (typing.is_typeddict(candidate) or dataclasses.is_dataclass(candidate)):
            return candidate
    return None


def _plain_types(hint) -> tuple[type, ...] | None:
    if hint in _PLAIN:
        return (hint,)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if all(a in _PLAIN for a in args):
            return args
    return None


def _fits(value, allowed: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int) and float in allowed:
        return True
    return isinstance(value, allowed)

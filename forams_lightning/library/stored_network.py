"""A library's network as it is stored: its checked description and its weights (tensors only), built into a module
the first time a file is embedded. Reading a library for what needs no network (the live review of kept embeddings,
library edits, a census) then imports no backbone library (timm and torchvision: seconds of start-up), and a file
that holds code is still refused when the library is read."""

from __future__ import annotations

from pathlib import Path

import torch

from forams_lightning.checkpoints import load_weights_only
from forams_lightning.models.embedder import build_embedder, check_spec


class StoredNetwork:
    """`manifest.json`'s `embedder` and `embedder.pt` of the library in `folder`, both checked as data; `build()`
    makes the module once (every library derived from this one shares it)."""

    def __init__(self, spec: dict, folder: Path, device: str | torch.device = "cpu"):
        check_spec(spec, f"{folder / 'manifest.json'}: embedder")
        self.spec, self.folder, self.device = spec, folder, device
        self.weights = load_weights_only(folder / "embedder.pt")
        if not isinstance(self.weights, dict) or not all(isinstance(v, torch.Tensor) for v in self.weights.values()):
            raise ValueError(f"{folder / 'embedder.pt'}: not the weights of a network (expected named tensors)")
        self._module: torch.nn.Module | None = None

    def state_dict(self) -> dict:
        """The weights as read (what a library saves again when it never built the network)."""
        return self.weights if self._module is None else self._module.state_dict()

    def build(self) -> torch.nn.Module:
        if self._module is None:
            module = build_embedder(self.spec, f"{self.folder / 'manifest.json'}: embedder")
            try:
                module.load_state_dict(self.weights)
            except Exception as error:  # noqa: BLE001 - a mismatch of names or shapes: not this network's weights
                raise ValueError(f"{self.folder / 'embedder.pt'}: not the weights of the network manifest.json "
                                 f"describes ({type(error).__name__})") from None
            self._module = module.to(self.device).eval()
        return self._module

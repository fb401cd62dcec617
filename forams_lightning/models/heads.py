"""Embedding head: [Linear -> ReLU] -> Linear -> optional L2 normalisation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class EmbeddingHead(nn.Module):
    """`hidden_dim=1000` gives the paper's head (2048 -> 1000 -> ReLU -> 128). The softmax classifier of the model
    reads the trunk output (the hidden layer where there is one), as in the paper."""

    def __init__(self, in_features: int, embedding_dim: int | None = 128, hidden_dim: int | None = None,
                 normalize: bool = False, *, dropout: float = 0.0):
        """The head's layers.

        Args:
            in_features: the backbone's feature size.
            embedding_dim: the embedding's size (None: the backbone's features, projected by no layer).
            hidden_dim: a hidden layer's size, or None.
            normalize: L2-normalise the embedding.
            dropout: before the last layer.
        """
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(in_features, hidden_dim), nn.ReLU()) if hidden_dim else nn.Identity()
        self.trunk_features = hidden_dim or in_features
        self.dropout = nn.Dropout(dropout)
        # embedding_dim=None: the (trunk) features themselves are the embedding, e.g. to score frozen features.
        self.project = nn.Linear(self.trunk_features, embedding_dim) if embedding_dim else nn.Identity()
        self.normalize, self.embedding_dim = normalize, embedding_dim or self.trunk_features

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (embedding, trunk output)."""
        trunk = self.trunk(features)
        emb = self.project(self.dropout(trunk))
        return (F.normalize(emb, dim=1) if self.normalize else emb), trunk

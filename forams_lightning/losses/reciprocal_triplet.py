"""Reciprocal triplet loss (Masullo et al. 2019), as used by Karaderi et al. 2022, in PML's loss interface."""

from __future__ import annotations

from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.losses import BaseMetricLossFunction
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu


class ReciprocalTripletLoss(BaseMetricLossFunction):
    """Per triplet: d(a, p) + 1 / d(a, n), with d the squared Euclidean distance and no margin.

    Triplets come from a miner (any PML indices tuple is converted to triplets) or, without one, are sampled
    (`triplets_per_anchor`). `eps` keeps 1/d finite for coinciding embeddings.
    """

    def __init__(self, triplets_per_anchor: int | str = "all", eps: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.triplets_per_anchor, self.eps = triplets_per_anchor, eps

    def compute_loss(self, embeddings, labels, indices_tuple, ref_emb, ref_labels):
        a, p, n = lmu.convert_to_triplets(indices_tuple, labels, ref_labels, t_per_anchor=self.triplets_per_anchor)
        if len(a) == 0:
            return self.zero_losses()
        mat = self.distance(embeddings, ref_emb)
        losses = mat[a, p] + 1.0 / (mat[a, n] + self.eps)
        return {"loss": {"losses": losses, "indices": (a, p, n), "reduction_type": "triplet"}}

    def get_default_distance(self):
        return LpDistance(normalize_embeddings=False, p=2, power=2)

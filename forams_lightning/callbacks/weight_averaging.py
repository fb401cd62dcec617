"""Exponential moving average of the weights, tested as it was validated."""

from __future__ import annotations

from pytorch_lightning.callbacks import EMAWeightAveraging
from pytorch_lightning.trainer.states import TrainerFn


class EMAWeights(EMAWeightAveraging):
    """Lightning's `EMAWeightAveraging`: validation and checkpoints use the averaged weights (the checkpoint's
    ``state_dict``; the raw weights go to ``current_model_state`` for resuming).

    Lightning's callback also reloads the raw weights whenever it sees such a checkpoint while its average exists,
    which includes ``trainer.test(ckpt_path=...)`` after ``fit`` in the same Trainer (what `train.py` does): the test
    would score weights that validation never saw. Outside fitting the checkpoint's ``state_dict`` (the average) is
    what Lightning already loaded, so it is kept."""

    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)

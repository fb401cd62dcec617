"""Test-only Lightning callbacks, reachable from YAML (`+callbacks.kill._target_=helpers.KillAt`)."""

import os
import signal

import pytorch_lightning as pl


class KillAt(pl.Callback):
    """SIGKILL the training process at a given epoch and batch: a cluster killing a job, mid-epoch."""

    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            os.kill(os.getpid(), signal.SIGKILL)

"""One progress line per epoch: a long run can be followed in `train.log` and in logs that are not a terminal."""

from __future__ import annotations

import logging
import time

import pytorch_lightning as pl

from forams_lightning.console import log_progress

log = logging.getLogger(__name__)


class EpochProgressLog(pl.Callback):
    """After each training epoch (and its validation) logs ``epoch 3/15 | train/loss_epoch=0.4123 |
    val/knn_acc=0.9051 | elapsed 2m31s | left ~10m05s``: the `metrics` that exist at that point, wall time since
    fit started, and the time the remaining epochs would take at the mean pace so far.

    The line always reaches the run's log file (Hydra's `train.log`); it reaches stdout only where stdout is not a
    terminal (nohup, SLURM, CI), since a terminal shows the progress bar and would be garbled by it."""

    def __init__(self, metrics: list[str] | tuple[str, ...] = ("train/loss_epoch", "val/knn_acc")):
        self.metrics = list(metrics)
        self._start, self._first_epoch = 0.0, 0

    def on_train_start(self, trainer, pl_module) -> None:
        self._start, self._first_epoch = time.perf_counter(), trainer.current_epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        epoch, total = trainer.current_epoch + 1, trainer.max_epochs
        elapsed = time.perf_counter() - self._start
        fields = [f"epoch {epoch}/{total}" if total and total > 0 else f"epoch {epoch}"]
        fields += [f"{name}={float(trainer.callback_metrics[name]):.4f}" for name in self.metrics
                   if name in trainer.callback_metrics]
        fields.append(f"elapsed {_duration(elapsed)}")
        if total and total > 0:
            fields.append(f"left ~{_duration(elapsed / (epoch - self._first_epoch) * (total - epoch))}")
        log_progress(log, " | ".join(fields))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"

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
    terminal (nohup, SLURM, CI), since a terminal shows the progress bar and would be garbled by it.

    Evaluation passes longer than `every_s` (a test of several thousand images with test-time rotations, a run with
    no training epochs) also get a line every `every_s` seconds: ``test: 12/40 batches | left ~3m10s``."""

    def __init__(self, metrics: list[str] | tuple[str, ...] = ("train/loss_epoch", "val/knn_acc"),
                 every_s: float = 30.0):
        self.metrics, self.every_s = list(metrics), every_s
        self._start, self._first_epoch = 0.0, 0
        self._eval_last = self._eval_previous = 0.0
        self._eval_done = 0
        self._batch_s: float | None = None

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

    def _eval_epoch_start(self, trainer, pl_module) -> None:
        self._eval_last = self._eval_previous = time.perf_counter()
        self._eval_done = 0
        self._batch_s = None

    on_validation_epoch_start = on_test_epoch_start = _eval_epoch_start

    def _eval_batch_end(self, trainer, *_args, **_kwargs) -> None:
        now = time.perf_counter()
        self._eval_done += 1
        self._batch_s = _recent(self._batch_s, now - self._eval_previous)
        self._eval_previous = now
        if trainer.sanity_checking or not trainer.is_global_zero or now - self._eval_last < self.every_s:
            return
        self._eval_last = now
        stage = "test" if trainer.testing else "val"
        total = int(sum(trainer.num_test_batches if trainer.testing else trainer.num_val_batches))
        left = (self._batch_s or 0.0) * max(total - self._eval_done, 0)
        log_progress(log, f"{stage}: {self._eval_done}/{total} batches | left ~{_duration(left)}")

    on_validation_batch_end = on_test_batch_end = _eval_batch_end


def _recent(mean: float | None, seconds: float, weight: float = 0.5) -> float:
    """A running mean that follows the recent batches: the loaders of one pass differ in cost (a gallery whose
    features a frozen backbone remembers takes no time, the unseen species' images take the backbone's)."""
    return seconds if mean is None else (1 - weight) * mean + weight * seconds


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"

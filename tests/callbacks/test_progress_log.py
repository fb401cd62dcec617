"""The progress log's time left follows the batches being embedded."""

from types import SimpleNamespace

from forams_lightning.callbacks import progress_log
from forams_lightning.callbacks.progress_log import EpochProgressLog


def test_time_left_follows_the_batches_now_being_embedded(monkeypatch, caplog):
    """A test pass whose first loader is free (a frozen backbone's remembered gallery) and whose last batches take
    50 s each: with two of them to go it says ~1m30s (100 s to go), not the 13 s the pass's average would give."""
    clock = iter([0.0] + [0.1 * i for i in range(1, 21)] + [2.0 + 50 * i for i in range(1, 4)])
    monkeypatch.setattr(progress_log.time, "perf_counter", lambda: next(clock))
    callback = EpochProgressLog(every_s=0)
    trainer = SimpleNamespace(sanity_checking=False, is_global_zero=True, testing=True, num_test_batches=[20, 5])
    callback.on_test_epoch_start(trainer, None)
    caplog.set_level("INFO")
    for _ in range(23):
        callback.on_test_batch_end(trainer)
    last = caplog.messages[-1]
    assert last == "test: 23/25 batches | left ~1m28s", last

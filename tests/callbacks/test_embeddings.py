"""Embedding collectors of a stage share one collection, in dataset order."""

from types import SimpleNamespace

import numpy as np
import torch

from forams_lightning.callbacks.embeddings import EmbeddingCollector


class Recorder(EmbeddingCollector):
    def __init__(self, stages):
        super().__init__()
        self.stages, self.seen = stages, []

    def evaluate(self, trainer, pl_module, stage, parts):
        self.seen.append(parts)
        return {f"{stage}/n_{id(self)}": float(sum(len(e) for e, _ in parts.values()))}


def test_collectors_of_a_stage_share_one_collection_in_dataset_order():
    val_only, first, second = Recorder(("val",)), Recorder(("val", "test")), Recorder(("test",))
    dm = SimpleNamespace(eval_parts=lambda stage: ["train", "test"])
    trainer = SimpleNamespace(callbacks=[val_only, first, second], testing=True, sanity_checking=False, world_size=1,
                              is_global_zero=True, datamodule=dm)
    logged = []
    module = SimpleNamespace(log_dict=lambda metrics, **_: logged.append(metrics))
    for cb in trainer.callbacks:
        cb.on_test_epoch_start(trainer, module)
    for loader, index in ((0, [2, 0]), (1, [1, 0]), (0, [1])):  # batches out of dataset order
        out = {"embeddings": torch.tensor(index, dtype=torch.float32)[:, None].repeat(1, 3),
               "labels": torch.tensor(index) + 10 * loader, "index": torch.tensor(index)}
        for cb in trainer.callbacks:
            cb.on_test_batch_end(trainer, module, out, None, 0, loader)
    assert first._outputs and not second._outputs and not val_only._outputs  # one copy, kept by the first of "test"
    for cb in trainer.callbacks:
        cb.on_test_epoch_end(trainer, module)
    assert val_only.seen == [] and len(first.seen) == len(second.seen) == 1
    assert first.seen[0] is second.seen[0]  # gathered once
    np.testing.assert_array_equal(first.seen[0]["train"][1], [0, 1, 2])
    np.testing.assert_array_equal(first.seen[0]["test"][1], [10, 11])
    assert [list(m.values()) for m in logged] == [[5.0], [5.0]]

"""EMA weights: the test after fit uses the averaged weights, checkpoints keep them."""

import torch
from pytorch_lightning import Trainer
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.demos.boring_classes import BoringModel

from forams_lightning.callbacks.weight_averaging import EMAWeights


class Recording(BoringModel):
    def test_step(self, batch, batch_idx):
        self.tested = self.layer.weight.detach().clone()
        return super().test_step(batch, batch_idx)


def test_test_after_fit_uses_the_averaged_weights(tmp_path):
    model = Recording()
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    trainer = Trainer(max_epochs=2, limit_train_batches=4, limit_val_batches=1, limit_test_batches=1,
                      callbacks=[EMAWeights(decay=0.5), checkpoint], logger=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu")
    trainer.fit(model)
    trainer.test(model, ckpt_path=checkpoint.last_model_path, verbose=False)
    saved = torch.load(checkpoint.last_model_path, weights_only=False)
    assert torch.equal(model.tested, saved["state_dict"]["layer.weight"])  # the average
    assert not torch.equal(model.tested, saved["current_model_state"]["layer.weight"])  # not the raw weights


def test_ema_config_runs_and_checkpoints_the_average(make_cfg, tmp_path):
    import json

    from forams_lightning.train import train

    train(make_cfg("callbacks=[default,ema]", "trainer.max_epochs=2", "+trainer.limit_train_batches=3",
                   "callbacks.morphospace=null"))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.0 <= metrics["test/knn_acc"] <= 1.0
    saved = torch.load(tmp_path / metrics["best_checkpoint"], weights_only=False)
    assert "current_model_state" in saved and "averaging_state" in saved

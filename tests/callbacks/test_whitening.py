"""The whitening callback writes the fitted projection into the head; too few species to cross-fit warn."""

import io

import numpy as np
import pytest

from forams_lightning.models.whitening import fit_whitening


def test_whitening_callback_writes_the_fitted_projection_into_the_head(make_cfg):
    from types import SimpleNamespace

    import torch
    from hydra.utils import instantiate

    from forams_lightning.callbacks.whitening import WhiteningInit
    from forams_lightning.evaluation.calibration import image_share

    cfg = make_cfg("+experiment=open_set_whitened", "model.backbone.pretrained=false", "model.head.embedding_dim=16")
    dm = instantiate(cfg.data)
    dm.prepare_data()
    dm.setup("fit")
    model = instantiate(cfg.model, loss=cfg.loss, miner=cfg.miner, optimizer=cfg.optimizer, scheduler=cfg.scheduler,
                        num_classes=dm.num_classes)
    WhiteningInit(rotations=2).on_fit_start(SimpleNamespace(ckpt_path=None, datamodule=dm), model)
    images, labels, _ = next(iter(torch.utils.data.DataLoader(dm.dataset("train"), batch_size=10_000)))
    with torch.no_grad():
        model.eval()
        views = [model.backbone(torch.rot90(images, k, (2, 3))).numpy() for k in range(2)]
    mean, projection = fit_whitening(np.concatenate(views), np.tile(labels.numpy(), 2), 16, 0.5)
    weight, bias = model.head.project.weight.detach().numpy(), model.head.project.bias.detach().numpy()
    signs = np.sign((weight * projection.T).sum(1, keepdims=True))  # eigenvectors are defined up to sign
    np.testing.assert_allclose(weight * signs, projection.T, rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(bias * signs[:, 0], -projection.T @ mean, rtol=1e-2, atol=1e-3)

    # the frozen backbone's features of the fit are served again to evaluation: the training images skip the backbone
    assert len(model.feature_memo) == 2 * len(images)
    calls = []
    model.backbone.register_forward_hook(lambda module, args, out: calls.append(len(args[0])))
    with torch.no_grad():
        served = model(torch.rot90(images[:3], 1, (2, 3)))
        assert calls == []
        torch.testing.assert_close(served, model.head(torch.from_numpy(views[1][:3]))[0], rtol=1e-4, atol=1e-5)
        model(torch.rot90(images[:3], 2, (2, 3)))  # a turn the fit did not see
    assert calls == [3]
    # a checkpoint of other backbone weights makes them stale; the run's own checkpoint keeps them
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.on_load_checkpoint({"state_dict": state})
    assert len(model.feature_memo) == 2 * len(images)
    next(v for k, v in state.items() if k.startswith("backbone.") and v.is_floating_point()).add_(1.0)
    model.on_load_checkpoint({"state_dict": state})
    assert len(model.feature_memo) == 0

    # more parts: the known species' val images join the fit; parts the data lacks (no val species here) are skipped
    WhiteningInit(rotations=1, parts=["train", "val", "unknown_val"]).on_fit_start(
        SimpleNamespace(ckpt_path=None, datamodule=dm), model)
    assert len(model.feature_memo) == len(dm.indices("train")) + len(dm.indices("val")) > len(images)
    model.on_test_end()  # the test pass was the memo's last use
    assert len(model.feature_memo) == 0
    with pytest.raises(ValueError, match=r"callbacks.whitening.parts=\['train', 'unknown_test'\]"):
        WhiteningInit(parts=["train", "unknown_test"])  # never the test species

    # cross-fitted calibration sets: every training species once, embedded by the other half's whitening
    whitening = WhiteningInit(rotations=1, calibration_folds=2)
    whitening.on_fit_start(SimpleNamespace(ckpt_path=None, datamodule=dm), model)
    sets = model.calibration.sets
    assert len(sets) == 2 and all(e.shape[1] == 16 for e, _ in sets)
    assert sorted(np.concatenate([y for _, y in sets])) == sorted(np.asarray(dm.part_labels("train")))
    # with the share of their species' images they hold: the training images of those species among all of them
    train_labels = np.asarray(dm.part_labels("train"))
    assert model.calibration.share == len(train_labels) / np.isin(dm.labels, train_labels).sum() < 1
    assert image_share([0, 0, 1], [0, 0, 0, 0, 1, 1, 2]) == 3 / 6  # species 0 and 1 have 6 images, 3 of them here
    # they travel in the model's checkpoint, as tensors a weights-only load reads
    checkpoint = {"state_dict": model.state_dict()}
    model.on_save_checkpoint(checkpoint)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    calibration, model.calibration = model.calibration, None
    model.on_load_checkpoint(torch.load(buffer, weights_only=True))
    for (x, y), (x2, y2) in zip(sets, model.calibration.sets, strict=True):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    assert model.calibration.share == calibration.share
    # checkpoints written before the model kept them hold them in the whitening callback's state
    model.on_load_checkpoint({"state_dict": checkpoint["state_dict"],
                              "callbacks": {"WhiteningInit{}": checkpoint["calibration"]}})
    assert model.calibration.share == calibration.share and len(model.calibration.sets) == 2
    model.on_load_checkpoint({"state_dict": checkpoint["state_dict"]})  # a run without them
    assert model.calibration is None
    with pytest.raises(ValueError, match="callbacks.whitening.calibration_folds must be 0"):
        WhiteningInit(calibration_folds=1)


def test_too_few_species_to_cross_fit_warn_and_leave_no_calibration_sets(caplog):
    from forams_lightning.callbacks.whitening import WhiteningInit

    whitening = WhiteningInit(calibration_folds=2)
    views = np.random.default_rng(4).normal(size=(9, 2, 6))
    assert whitening._cross_fit(views, np.repeat([0, 1, 2], 3), dim=4, normalize=True) == []  # 3 species, 2 folds
    assert "at least 2 species a fold (got 3 species)" in caplog.text

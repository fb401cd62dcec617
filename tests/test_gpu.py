"""CUDA-only paths: bf16 autocast with the kNN evaluation, GPU augmentation, torch.compile, channels-last. They run
where a GPU exists (experiments/speed/device_check.sh) and skip elsewhere."""

import json

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_bf16_training_and_knn_evaluation_on_the_gpu(make_cfg, tmp_path):
    from forams_lightning.train import train

    train(make_cfg("trainer=gpu", "trainer.max_epochs=2", "+trainer.limit_train_batches=3"))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["accelerator"] == "CUDAAccelerator" and run["precision"] == "bf16-mixed"
    assert metrics["test/knn_acc"] > 1 / 6 and metrics["epochs"] == 2


def test_gpu_augmentation_and_decoded_cache_train(make_cfg, tmp_path):
    from forams_lightning.train import train

    train(make_cfg("trainer=gpu", "trainer.max_epochs=1", "+trainer.limit_train_batches=3", "data.gpu_augment=true",
                   "data.cache=true"))
    assert 0 <= json.loads((tmp_path / "metrics.json").read_text())["test/knn_acc"] <= 1


def test_compiled_channels_last_backbone_matches_eager():
    from forams_lightning.models.backbones import Backbone

    eager = Backbone("resnet18", pretrained=False).cuda().eval()
    eager.channels_last = False
    eager.resolve_channels_last()
    fast = Backbone("resnet18", pretrained=False).cuda().eval()
    fast.load_state_dict(eager.state_dict())
    fast.resolve_channels_last()
    assert fast.channels_last is True
    fast.compile()
    x = torch.rand(8, 3, 96, 96, device="cuda")
    with torch.inference_mode():
        assert torch.allclose(fast(x), eager(x), atol=1e-3, rtol=1e-3)

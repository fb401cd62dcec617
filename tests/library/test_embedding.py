"""Embedding files: the inference precision autocasts only the passes that embed, bf16 only where the CPU has it."""


import pytest
import torch
from helpers import tiny_module


def test_inference_precision_autocasts_only_the_passes_that_embed():
    torch.manual_seed(0)
    module = tiny_module(inference_precision="bf16").eval()
    batch = (torch.rand(4, 3, 32, 32), torch.zeros(4, dtype=torch.long), torch.arange(4))
    with torch.no_grad():
        bf16 = module._embed_batch(batch)["embeddings"]
        module.inference_precision = "32"
        fp32 = module._embed_batch(batch)["embeddings"]
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, fp32)
    assert torch.nn.functional.cosine_similarity(bf16, fp32).min() > 0.98
    with pytest.raises(ValueError, match="inference_precision must be 32 or bf16"):
        tiny_module(inference_precision="fp16")


def test_inference_precision_auto_is_bf16_only_on_a_cpu_with_native_bfloat16(monkeypatch):
    import forams_lightning.library.embedding as embedding

    auto = embedding.Inference(precision="auto")
    for native in (True, False):
        monkeypatch.setattr(embedding, "native_bf16", lambda native=native: native)
        assert auto.bf16(torch.device("cpu")) is native and not auto.bf16(torch.device("cuda"))
    assert embedding.Inference(precision="bf16").bf16(torch.device("cpu"))
    with pytest.raises(ValueError, match="precision must be one of"):
        embedding.Inference(precision="16")

"""GPU batching: bucket lengths bound the tensor shapes, the collator pads exactly like the stock one up to the
bucket, and the automatic batch size grows only on a GPU and only for data large enough."""
from __future__ import annotations

import torch

from core.batching import CPU_BATCH_SIZE, MIN_STEPS_PER_EPOCH, BucketPaddingCollator, auto_batch_size, bucket_length


def test_bucket_lengths_cover_every_length_with_few_shapes() -> None:
    buckets = {bucket_length(n) for n in range(1, 513)}
    assert len(buckets) == 16
    for n in range(1, 2049):
        b = bucket_length(n)
        assert b >= n and b % 8 == 0
        assert b - n < max(16, n // 4)  # never more than a quarter of padding beyond the shortest buckets
    assert [bucket_length(n) for n in (1, 16, 17, 129, 257, 513)] == [16, 16, 32, 160, 320, 640]


def test_bucket_length_never_exceeds_the_runs_max_length() -> None:
    assert bucket_length(130, limit=136) == 136
    assert bucket_length(500, limit=512) == 512


def test_collator_pads_to_the_bucket_with_pad_id_and_zero_mask() -> None:
    features = [
        {"input_ids": [101, 7, 8, 102], "attention_mask": [1, 1, 1, 1], "labels": 2},
        {"input_ids": [101, 9, 102], "attention_mask": [1, 1, 1], "labels": 0},
    ]
    batch = BucketPaddingCollator(pad_token_id=5)(features)
    assert batch["input_ids"].shape == (2, 16) and batch["input_ids"].dtype == torch.long
    assert batch["input_ids"][0, :4].tolist() == [101, 7, 8, 102]
    assert batch["input_ids"][1].tolist() == [101, 9, 102] + [5] * 13
    assert batch["attention_mask"].sum(dim=1).tolist() == [4, 3]
    assert batch["labels"].tolist() == [2, 0]


def test_collated_batch_gives_the_same_logits_as_the_stock_collator(tiny_model_dir: str) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    texts = ["the invoice is wrong", "reset my password please, it expired this morning", "hi"]
    features = [{**tokenizer(t), "labels": i} for i, t in enumerate(texts)]
    stock = DataCollatorWithPadding(tokenizer)([dict(f) for f in features])
    ours = BucketPaddingCollator(tokenizer.pad_token_id)([dict(f) for f in features])
    assert ours["input_ids"].shape[1] > stock["input_ids"].shape[1]  # padded further, to the bucket
    with torch.no_grad():
        a = model(**{k: v for k, v in stock.items() if k != "labels"}).logits
        b = model(**{k: v for k, v in ours.items() if k != "labels"}).logits
    assert torch.allclose(a, b, atol=1e-5)


def test_auto_batch_size_is_32_on_cpu_and_for_small_data() -> None:
    long_data = [200] * 100_000
    assert auto_batch_size(long_data, cuda=False) == CPU_BATCH_SIZE
    assert auto_batch_size([20] * 800, cuda=True, gpu_memory_bytes=80 * 2**30) == CPU_BATCH_SIZE
    assert auto_batch_size([], cuda=True) == CPU_BATCH_SIZE


def test_auto_batch_size_on_a_gpu_aims_at_16k_tokens_within_its_limits() -> None:
    big = 80 * 2**30
    # Short texts: 16k tokens would be 512 texts; capped at 256.
    assert auto_batch_size([20] * 50_000, cuda=True, gpu_memory_bytes=big) == 256
    # ~150-token texts: about 16384 / 160 = 102 -> 96 (a multiple of 8).
    assert auto_batch_size([150] * 50_000, cuda=True, gpu_memory_bytes=big) == 96
    # 20,000 texts: 100 steps per epoch allow 200 texts a step, so 16k tokens (96) decides.
    assert auto_batch_size([150] * 20_000, cuda=True, gpu_memory_bytes=big) == 96
    # R8's size (5,485 texts): 5485 / 100 = 54 -> 48, so an epoch keeps at least MIN_STEPS_PER_EPOCH steps.
    rows = auto_batch_size([150] * 5_485, cuda=True, gpu_memory_bytes=big)
    assert rows == 48 and 5_485 / rows >= MIN_STEPS_PER_EPOCH
    # 3,000 texts allow no batch above the CPU's 32.
    assert auto_batch_size([150] * 3_000, cuda=True, gpu_memory_bytes=big) == CPU_BATCH_SIZE
    # A small card: a batch of the longest texts (512 tokens) must stay within 16k tokens -> 32.
    assert auto_batch_size([150] * 49_000 + [512] * 1_000, cuda=True, gpu_memory_bytes=16 * 2**30) == 32


def test_auto_batch_size_leaves_room_for_bigger_models() -> None:
    big, data = 80 * 2**30, [150] * 49_000 + [512] * 1_000
    assert auto_batch_size(data, cuda=True, gpu_memory_bytes=big, num_parameters=110_000_000) == 96
    # bert-large: 64k x 120M / 335M = 23.4k tokens for a batch of 512-token texts -> 45 -> 40.
    assert auto_batch_size(data, cuda=True, gpu_memory_bytes=big, num_parameters=335_000_000) == 40


def test_gpu_attention_leaves_cudnn_unless_asked_to_keep_it(monkeypatch) -> None:  # noqa: ANN001
    """cuDNN's per-shape plans cost a GPU run's first epoch half its time (BENCHMARKS.md); the switch is global."""
    from core.hardware import use_fast_gpu_attention

    original = torch.backends.cuda.cudnn_sdp_enabled()
    try:
        torch.backends.cuda.enable_cudnn_sdp(True)
        monkeypatch.setenv("TEXTCLF_CUDNN_ATTENTION", "1")
        use_fast_gpu_attention()
        assert torch.backends.cuda.cudnn_sdp_enabled()
        monkeypatch.delenv("TEXTCLF_CUDNN_ATTENTION")
        use_fast_gpu_attention()
        assert not torch.backends.cuda.cudnn_sdp_enabled()
        assert torch.backends.cuda.flash_sdp_enabled() and torch.backends.cuda.mem_efficient_sdp_enabled()
    finally:
        torch.backends.cuda.enable_cudnn_sdp(original)


def test_a_jobs_batch_is_the_whole_steps_split_between_its_processes():
    from core.batching import batch_per_process

    assert batch_per_process(0, 1, [20] * 1000, cuda=False) == 32
    assert batch_per_process(0, 2, [20] * 1000, cuda=False) == 16  # 32 texts a step, as on one process
    assert batch_per_process(48, 4, [20] * 1000, cuda=False) == 12
    assert batch_per_process(10, 4, [20] * 1000, cuda=True) == 3  # never fewer texts a step than asked
    # A GPU's own batch from its share of the texts: 51,200 texts on 2 GPUs keep 100 steps an epoch at 256 each.
    assert batch_per_process(0, 1, [20] * 51_200, cuda=True, gpu_memory_bytes=80 * 2**30) == 256
    assert batch_per_process(0, 2, [20] * 51_200, cuda=True, gpu_memory_bytes=80 * 2**30) == 256
    assert batch_per_process(0, 4, [20] * 51_200, cuda=True, gpu_memory_bytes=80 * 2**30) == 128

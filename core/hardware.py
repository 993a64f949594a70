"""Which device and precision to train with: the fastest that is safe on this machine."""
from __future__ import annotations

import os
from functools import lru_cache


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """bf16 matmuls are only fast with native instructions; emulated bf16 on older CPUs is slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def choose_precision() -> str:
    """'bf16', 'fp16' or 'fp32'. TEXTCLF_PRECISION overrides the automatic choice (used by benchmarks)."""
    forced = os.environ.get("TEXTCLF_PRECISION", "").lower()
    if forced in ("bf16", "fp16", "fp32"):
        return forced
    if cuda_available():
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_supports_bf16() else "fp32"


def use_fast_gpu_attention() -> None:
    """Attention on PyTorch's own fused kernels instead of cuDNN's. cuDNN builds an execution plan for every new
    tensor shape, and a run meets dozens (bucket lengths x batch sizes, in training, the probe and evaluation): on an
    H100 (bert-base, R8, batch 48) the engine's first epoch took 15.3 s with cuDNN and 7.7 s without, and later
    epochs were no faster with it (6.4 vs 6.1 s). TEXTCLF_CUDNN_ATTENTION=1 keeps cuDNN (for comparisons)."""
    import torch

    if os.environ.get("TEXTCLF_CUDNN_ATTENTION") != "1":
        torch.backends.cuda.enable_cudnn_sdp(False)


def device_name() -> str:
    if cuda_available():
        import torch

        return f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})"
    return f"cpu ({os.cpu_count()} cores)"


def gpu_count() -> int:
    """The GPUs this process may use (CUDA_VISIBLE_DEVICES applied); 0 without CUDA."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


"""`python -m bench.gpu_steps`: where GPU training time goes, outside the Trainer.

A bare training loop (bf16 autocast, fused AdamW, gradient clipping, linear schedule: the engine's step without the
Trainer around it) over the engine's own tokenised data, with several batching schemes, each in its own process.
It gives the ceiling the engine's Trainer path is compared with, and how much batch shape and size matter:

- b32-pad8: batches of 32 from length-sorted windows, padded to a multiple of 8 (the stock GPU collator);
- b32-bucket: the same batches padded to core.batching's bucket lengths (the engine's GPU collator);
- b48-bucket: batches of 48 (what the engine picks for R8 on an H100: 100+ steps per epoch), bucket lengths, with
  cuDNN attention as PyTorch chooses by default;
- b48-bucket-nocudnn: the same with cuDNN attention off (PyTorch's own kernels, as the engine runs): cuDNN builds an
  execution plan per new shape, which made the first epoch almost twice as long;
- b120-bucket: batches of 120 (~16k tokens a step, the engine's choice before accuracy capped the batch);
- tok16k-bucket: batches filled up to ~16k padded tokens (bigger batches, fewer steps).

Each prints samples/s for its first and second epoch, the padded/real token ratio and the distinct shapes seen.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

VARIANTS = ("b32-pad8", "b32-bucket", "b48-bucket", "b48-bucket-nocudnn", "b120-bucket", "tok16k-bucket")


def _batches(lengths: list[int], variant: str, seed: int) -> list[list[int]]:
    import numpy as np

    from core.batching import bucket_length

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    window = 50 * 32  # like the Trainer's length grouping: sort inside windows of 50 batches
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window].tolist(), key=lambda i: -lengths[i])
        if variant.startswith("b"):
            rows = int(variant[1:].split("-")[0])
            batches += [chunk[i:i + rows] for i in range(0, len(chunk), rows)]
            continue
        current: list[int] = []
        for i in chunk:
            width = bucket_length(max([lengths[j] for j in current] + [lengths[i]]))
            if current and width * (len(current) + 1) > 16384:
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
    rng.shuffle(batches)
    return batches


def child(variant: str, model_path: str, train_csv: str, epochs: int, seed: int, profile: bool,
          rows: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding

    from core.batching import BucketPaddingCollator
    from core.engine.token_store import encode_split

    torch.manual_seed(seed)
    if variant.endswith("-nocudnn"):  # is the first epoch's warm-up cuDNN attention building a plan per shape?
        torch.backends.cuda.enable_cudnn_sdp(False)
    df = pd.read_csv(train_csv, dtype=str, keep_default_na=False)
    df = df.head(rows) if rows else df
    device = "cuda" if torch.cuda.is_available() else "cpu"  # cpu: only to check the script itself
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    labels = sorted(df["label"].unique())
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    data, max_length = encode_split(tokenizer, df, labels, 0, 512)
    lengths = data.lengths.tolist()
    model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=len(labels)).to(device)
    collate = (BucketPaddingCollator(tokenizer.pad_token_id, max_length) if "-bucket" in variant
               else DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8, return_tensors="pt"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=device == "cuda")
    plan = [_batches(lengths, variant, seed + e) for e in range(epochs)]
    total = sum(len(p) for p in plan)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / (0.1 * total), (total - s) / (0.9 * total)))
    shapes: set[tuple[int, int]] = set()
    padded = real = 0
    epoch_seconds = []
    model.train()
    for epoch, batches in enumerate(plan):
        sync()
        t0 = time.perf_counter()
        prof = None
        if profile and epoch == 1:
            prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA])
            prof.__enter__()
        for step, ids in enumerate(batches):
            batch = collate(data.__getitems__(ids))
            batch = {k: (v.pin_memory() if device == "cuda" else v).to(device, non_blocking=True) for k, v in batch.items()}
            shapes.add(tuple(batch["input_ids"].shape))
            padded += batch["input_ids"].numel()
            real += sum(lengths[i] for i in ids)
            with torch.autocast(device, dtype=torch.bfloat16):
                out = model(**{k: v for k, v in batch.items() if k != "labels"})
            loss = torch.nn.functional.cross_entropy(out.logits.float(), batch["labels"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            if prof is not None and step == 30:
                sync()
                prof.__exit__(None, None, None)
                print(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=12), flush=True)
                prof = None
        sync()
        epoch_seconds.append(time.perf_counter() - t0)
        print(f"  {variant} epoch {epoch + 1}: {epoch_seconds[-1]:.1f} s, {len(lengths) / epoch_seconds[-1]:.0f} samples/s, "
              f"{len(batches)} steps", flush=True)
    n = len(lengths)
    return {"variant": variant, "steps_per_epoch": len(plan[0]), "epoch_seconds": epoch_seconds,
            "samples_per_second": [n / s for s in epoch_seconds], "padding_ratio": padded / real,
            "shapes": len(shapes), "max_length": max_length, "mean_length": sum(lengths) / n,
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_steps", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", action="store_true", help="print the top GPU kernels of 30 warm b32 steps")
    parser.add_argument("--rows", type=int, default=0, help="use only the first N training texts (0 = all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--train-csv", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = child(args.child, args.model, args.train_csv, args.epochs, args.seed, args.profile, args.rows)
        print("RESULT " + json.dumps(result), flush=True)
        return 0

    from bench.__main__ import bert_base_random
    from bench.datasets import prepare

    data = prepare("r8", None, None, args.seed)
    model = bert_base_random()
    print(f"bert-base (random weights) on R8: {data.num_train} training texts, {args.epochs} epochs", flush=True)
    rows = []
    for variant in args.variants.split(","):
        cmd = [sys.executable, "-m", "bench.gpu_steps", "--child", variant, "--model", model, "--train-csv",
               str(data.train_csv), "--epochs", str(args.epochs), "--seed", str(args.seed), "--rows", str(args.rows)]
        if args.profile and variant == "b32-bucket":
            cmd.append("--profile")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, HF_HUB_OFFLINE="1"))
        found = []
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("RESULT "):
                found.append(line[7:])
            elif not line.startswith(("Loading weights", "Key", "---", "classifier", "Notes", "- MISSING", "[transformers]")):
                print(line, end="", flush=True)
        if proc.wait() != 0 or not found:
            print(f"{variant} failed (exit code {proc.returncode})", flush=True)
            continue
        rows.append(json.loads(found[0]))
    print("\n| variant | steps/epoch | epoch 1 samples/s | epoch 2 samples/s | padded/real tokens | shapes | peak GiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        sps = r["samples_per_second"]
        print(f"| {r['variant']} | {r['steps_per_epoch']} | {sps[0]:.0f} | {sps[-1]:.0f} | {r['padding_ratio']:.2f} | "
              f"{r['shapes']} | {r['peak_gib']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench.attention`: one CPU training step per attention kernel, with and without attention dropout.

The numbers behind core/engine/attention.py's choice. Each cell is its own process (so peak RSS belongs to that cell alone):
the default model, a batch of 32 random token ids at the given width with half of one row padded, forward + backward
+ AdamW under the engine's precision, timed after one warm-up step. `--inference` times a forward pass without
gradients instead (evaluation, prediction, the warm-start probe), where dropout never applies.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = [("sdpa", 0.1), ("eager", 0.1), ("eager", 0.0), ("sdpa", 0.0)]
INFERENCE_VARIANTS = [("eager", 0.1), ("sdpa", 0.1)]


def one_cell(kernel: str, width: int, dropout: float, batch: int, steps: int, inference: bool) -> dict[str, float]:
    import torch
    from transformers import AutoModelForSequenceClassification

    from core.hardware import choose_precision
    from core.models import resolve_model

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        resolve_model(""), num_labels=8, attn_implementation=kernel, attention_probs_dropout_prob=dropout).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(1000, 20000, (batch, width))
    mask = torch.ones_like(ids)
    mask[0, width // 2:] = 0
    labels = torch.randint(0, 8, (batch,))
    bf16 = choose_precision() == "bf16"
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        if inference:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                model.eval()(input_ids=ids, attention_mask=mask)
            times.append(time.perf_counter() - start)
            continue
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": sorted(times[1:])[len(times[1:]) // 2], "peak_rss_gib": peak / 2**30}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.attention", description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="32,128,256,512", help="comma-separated batch widths in tokens")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--inference", action="store_true", help="a forward pass without gradients, not a training step")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per cell (the median is shown)")
    parser.add_argument("--one", nargs=3, metavar=("KERNEL", "WIDTH", "DROPOUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        kernel, width, dropout = args.one
        print(json.dumps(one_cell(kernel, int(width), float(dropout), args.batch, args.steps, args.inference)))
        return
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    variants = INFERENCE_VARIANTS if args.inference else VARIANTS
    header = " | ".join(k if args.inference else f"{k}, dropout {d}" for k, d in variants)
    print(f"| tokens | {header} |\n|---|{'---|' * len(variants)}")
    for width in [int(w) for w in args.widths.split(",")]:
        cells = []
        for kernel, dropout in variants:
            out = subprocess.run([sys.executable, "-m", "bench.attention", "--one", kernel, str(width), str(dropout),
                                  "--batch", str(args.batch), "--steps", str(args.steps)]
                                 + (["--inference"] if args.inference else []),
                                 cwd=ROOT, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                cells.append("failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:60])
                continue
            cell = json.loads(out.stdout.strip().splitlines()[-1])
            cells.append(f"{cell['seconds']:.2f} s, {cell['peak_rss_gib']:.1f} GiB")
        print(f"| {width} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

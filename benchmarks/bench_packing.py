"""Packed vs padded training on the toy models, measured in one run: the share of compute spent on padding, and
the training throughput in real (non-padding) tokens per second.

Both runs train the same tiny model (same init seed) with the engine as a fine-tuning job does
(`training.run.train`, objective `none`, no remedy) on the same texts - WikiText-2 valid chunks of 8-96 words,
the length range of the paper config's debiasing corpus - for the same number of steps and sequences per step:
padded = one text per sequence, truncated at --max-length, each micro-batch padded to its longest text
(`training.packing: false`, the toy study's setting); packed = blocks of --max-length tokens
(`training.packing: true, block_size = max_length`). Padding share = padded positions / all positions of the
micro-batches the run trained on (replayed from its seeded example order and the token lengths); the packed
run has none, but drops the last partial block of the corpus once (reported). Each repeat runs both back to
back, alternating which goes first; reported: per-repeat packed/padded ratios of real tokens per wall second
and per CPU second (this process, robust to other load on a shared machine), median and range.

    python benchmarks/bench_packing.py [--kind masked|causal] [--steps 40] [--batch-size 16] [--max-length 128]
        [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from bench_training import train_none  # benchmarks/ is on sys.path when a benchmark runs as a script

from fairforget.data.general import wikitext_examples
from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.training import lm
from fairforget.training.order import ExampleOrder
from fairforget.training.packing import pack_texts
from fairforget.training.settings import TrainSettings

REPO = Path(__file__).resolve().parent.parent
ARCH = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 2000,
    "max_position_embeddings": 256,
}


def train(
    kind: str, tokenizer: Any, texts: list[str], args: argparse.Namespace, packing: bool
) -> tuple[int, float, float]:
    """(real tokens trained on, wall s, CPU s) of one run."""
    model = build_toy_model(kind, ARCH, tokenizer, seed=0)
    started, cpu_started = time.perf_counter(), time.process_time()
    settings = TrainSettings(
        max_steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=1e-3,
        checkpoint_every_steps=10**9,
        probe_every_steps=None,
        packing=packing,
        block_size=args.max_length if packing else None,
        seed=0,
    )
    result = train_none(kind, tokenizer, texts, settings, args.max_length, model)
    return result.tokens, time.perf_counter() - started, time.process_time() - cpu_started


def padded_positions(tokenizer: Any, texts: list[str], args: argparse.Namespace) -> tuple[int, int]:
    """(real tokens, all positions) of the padded run's micro-batches, replayed from its example order."""
    lengths = lm.build_token_cache(tokenizer, texts, args.max_length).lengths.tolist()
    order = ExampleOrder(len(texts), seed=0, batch_size=args.batch_size)
    real = positions = 0
    for step in range(args.steps):
        batch = [lengths[i] for i in order.take(step * args.batch_size, args.batch_size)]
        real += sum(batch)
        positions += len(batch) * max(batch)
    return real, positions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["masked", "causal"], default="masked")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    wikitext = REPO / "resources" / "data" / "wikitext2" / "wiki.valid.raw"
    texts = [r["text"] for r in wikitext_examples(wikitext, "valid", 8, 96)]
    tokenizer = train_tokenizer(texts, args.kind, ARCH["vocab_size"], model_max_length=args.max_length)
    real, positions = padded_positions(tokenizer, texts, args)
    blocks = pack_texts(tokenizer, texts, args.max_length, seed=0)
    print(
        f"{len(texts)} texts; padded: {real} real tokens in {positions} positions, padding share "
        f"{1 - real / positions:.1%}; packed: padding share 0.0%, {blocks.dropped_tokens} of {blocks.corpus_tokens} "
        f"corpus tokens dropped once (last partial block); padded truncation at {args.max_length} tokens"
    )
    ratios: dict[str, list[float]] = {"wall": [], "cpu": []}
    runs = [("padded", False), ("packed", True)]
    for repeat in range(args.repeats):
        rates: dict[tuple[str, str], float] = {}
        for name, packing in runs if repeat % 2 == 0 else runs[::-1]:
            tokens, seconds, cpu_seconds = train(args.kind, tokenizer, texts, args, packing)
            print(
                f"repeat {repeat + 1}: {name}: {tokens} real tokens, {seconds:.2f} s wall ({tokens / seconds:.0f}/s), "
                f"{cpu_seconds:.2f} s CPU ({tokens / cpu_seconds:.0f}/CPU-s)",
                flush=True,
            )
            rates[name, "wall"], rates[name, "cpu"] = tokens / seconds, tokens / cpu_seconds
        for clock, values in ratios.items():
            values.append(rates["packed", clock] / rates["padded", clock])
    for clock, values in ratios.items():
        values.sort()
        print(
            f"{clock}: packed/padded real tokens per second, median {statistics.median(values):.2f} "
            f"(min {values[0]:.2f}, max {values[-1]:.2f}) over {args.repeats} repeats"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

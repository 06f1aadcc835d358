"""Benchmark of batched scoring against one-forward-at-a-time scoring, and peak memory as the corpus grows.

    python benchmarks/bench_scoring.py [--sentences 200] [--batch-size 128] [--threads 1]

1. Masked: batched PLL (fairforget.scoring.masked) vs one forward pass per masked token, on a toy BERT
   (hidden 64, 2 layers, vocab 2000) and WikiText-2 test sentences; checks the scores agree to 1e-6.
2. Causal: batched next-token scoring vs one forward pass per text on a toy Llama of the same size.
3. Peak resident memory added by batched PLL scoring (Linux VmHWM reset just before scoring) in a fresh
   process for growing corpus sizes: it should stay flat (bounded by one batch), not grow with the corpus.
Prints the timings and ratios; exits non-zero if the scores disagree.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.scoring.dispatch import score_texts

REPO = Path(__file__).resolve().parent.parent
WIKITEXT = REPO / "resources/data/wikitext2/wiki.test.raw"
ARCH = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
        "max_position_embeddings": 128}


def sentences(n: int, min_words: int = 8, max_words: int = 40) -> list[str]:
    """WikiText-2 test lines of 8-40 words (the toy study's held-out text); synthetic text if absent."""
    if WIKITEXT.is_file():
        lines = [line.strip() for line in WIKITEXT.read_text(encoding="utf-8").splitlines()]
        chosen = [line for line in lines if not line.startswith("=") and min_words <= len(line.split()) <= max_words]
    else:
        rng = np.random.default_rng(0)
        words = [f"w{i}" for i in range(500)]
        chosen = [" ".join(rng.choice(words, size=rng.integers(min_words, max_words))) for _ in range(n)]
    if len(chosen) < n:
        chosen = (chosen * (n // max(len(chosen), 1) + 1))[:n]
    return chosen[:n]


def build(kind: str, texts: list[str]) -> tuple[torch.nn.Module, object]:
    tokenizer = train_tokenizer(sentences(2000), kind, vocab_size=2000)
    return build_toy_model(kind, ARCH, tokenizer, seed=0).eval(), tokenizer


def naive_pll(model: torch.nn.Module, tokenizer: object, texts: list[str], max_length: int) -> list[np.ndarray]:
    out = []
    with torch.inference_mode():
        for text in texts:
            enc = tokenizer(text, truncation=True, max_length=max_length, return_special_tokens_mask=True)
            ids = torch.tensor([enc["input_ids"]])
            scores = []
            for position, special in enumerate(enc["special_tokens_mask"]):
                if special:
                    continue
                masked = ids.clone()
                masked[0, position] = tokenizer.mask_token_id
                logits = model(input_ids=masked).logits[0, position].double()
                scores.append(torch.log_softmax(logits, -1)[ids[0, position]].item())
            out.append(np.array(scores))
    return out


def naive_causal(model: torch.nn.Module, tokenizer: object, texts: list[str], max_length: int) -> list[np.ndarray]:
    out = []
    with torch.inference_mode():
        for text in texts:
            ids = torch.tensor([tokenizer(text, truncation=True, max_length=max_length)["input_ids"]])
            logits = model(input_ids=ids).logits[0, :-1].double()
            out.append(torch.log_softmax(logits, -1).gather(1, ids[0, 1:, None]).squeeze(1).numpy())
    return out


def compare(kind: str, texts: list[str], batch_size: int, max_length: int) -> bool:
    model, tokenizer = build(kind, texts)
    naive = naive_pll if kind == "masked" else naive_causal
    start = time.perf_counter()
    reference = naive(model, tokenizer, texts, max_length)
    naive_seconds = time.perf_counter() - start
    start = time.perf_counter()
    batched = score_texts(model, tokenizer, kind, texts, batch_size=batch_size, max_length=max_length,
                          progress=False)
    batched_seconds = time.perf_counter() - start
    worst = max(float(np.abs(a - b).max()) for a, b in zip(reference, batched.logprob) if len(a))
    tokens = int(sum(len(a) for a in reference))
    what = "one forward per masked token" if kind == "masked" else "one forward per text"
    print(f"{kind}: {len(texts)} sentences, {tokens} scored tokens, batch {batch_size}")
    print(f"  {what}: {naive_seconds:8.2f} s")
    print(f"  batched:{'':>{len(what) - 7}} {batched_seconds:8.2f} s")
    print(f"  speed-up: {naive_seconds / batched_seconds:6.1f}x   max |score difference|: {worst:.2e}")
    return worst <= 1e-6


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_child(n: int, batch_size: int) -> None:
    """Peak RSS added by scoring alone: the kernel's peak counter (VmHWM) is reset just before scoring."""
    texts = sentences(n)
    model, tokenizer = build("masked", texts)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
    before = _status_kib("VmRSS")
    score_texts(model, tokenizer, "masked", texts, batch_size=batch_size, max_length=64, progress=False)
    print(f"{before} {_status_kib('VmHWM')}")


def memory_sweep(sizes: list[int], batch_size: int, threads: int) -> None:
    print(f"peak RSS added by batched PLL scoring (masked, batch {batch_size}), fresh process per size:")
    for n in sizes:
        result = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n), "--batch-size", str(batch_size),
             "--threads", str(threads)], capture_output=True, text=True, check=True,
        )
        before, peak = (int(x) for x in result.stdout.split()[-2:])
        print(f"  {n:6d} sentences: scoring raised peak RSS by {(peak - before) / 1024:7.1f} MiB "
              f"(RSS before {before / 1024:.0f} MiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[100, 400, 1600])
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child is not None:
        memory_child(args.memory_child, args.batch_size)
        return 0
    texts = sentences(args.sentences)
    ok = compare("masked", texts, args.batch_size, args.max_length)
    ok &= compare("causal", texts, max(1, args.batch_size // 4), args.max_length)
    if args.memory_sizes:
        memory_sweep(args.memory_sizes, args.batch_size, args.threads)
    if not ok:
        print("FAIL: batched scores differ from the one-at-a-time scores by more than 1e-6")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

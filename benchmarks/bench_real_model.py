"""Scoring, zero-shot and training throughput on a real 135M model (SmolLM2-135M-Instruct, config/real.yaml)
against the plain transformers way, measured in one run.

    python benchmarks/bench_real_model.py --model-dir results/real/models/base/smollm2-135m \\
        [--sentences 100] [--zeroshot-examples 60] [--steps 4] [--threads 2] [--repeats 1]

1. Sentence scoring (what evaluate_* spends its time on): fairforget's batched causal scoring (sorted by length,
   head on scored positions only, `torch.inference_mode`) vs one forward pass per sentence with the full logits
   (BOS prepended in both, so the same tokens are scored), on WikiText-2 test sentences of 8-40 words.
2. Zero-shot multiple choice (downstream_* in config/real.yaml): `zeroshot.score_requests` (requests sharing a
   model input share a row: SST-2's one-token answers are read off one pass) vs one forward per (prompt, answer)
   with the full logits, as a plain harness loop does, on SST-2 dev examples.
3. Training: the fairforget engine vs `transformers.Trainer` (bench_training.run_engine / run_trainer) on the
   loaded model, same texts, steps, batch size and optimiser settings.
4. Threads of a training step (config/real.yaml's jobs): one step of --train-batch-size texts (forward, backward,
   clipping, fused AdamW, as the engine steps) on --threads threads vs on one, alternating, --thread-steps steps
   each after one untimed step; reports the median per-step wall and CPU time. On a shared, loaded machine the
   OpenMP threads of one step wait on each other, which shows as CPU time and wall far above one thread's.
Each comparison reports wall and CPU (this process) time of both and their ratio; scores must agree with the
baseline within --tolerance (float32 sums over different batch shapes differ in the last bits).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring import sentences  # noqa: E402
from bench_training import run_engine, run_trainer  # noqa: E402

from fairforget.downstream.tasks import load_task  # noqa: E402
from fairforget.downstream.zeroshot import build_requests, score_requests  # noqa: E402
from fairforget.models.modeldir import load_model_dir  # noqa: E402
from fairforget.scoring.dispatch import score_texts  # noqa: E402
from fairforget.training.lm import causal_labels, lm_loss_from_logits  # noqa: E402
from fairforget.training.optim import make_adamw  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def timed(run: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def report(title: str, rows: dict[str, tuple[float, float]], baseline: str, difference: float | None) -> None:
    print(title)
    base_wall, base_cpu = rows[baseline]
    for name, (wall, cpu) in rows.items():
        ratio = "" if name == baseline else f"   speed-up {base_wall / wall:5.2f}x wall, {base_cpu / cpu:5.2f}x CPU"
        print(f"  {name:<40s} {wall:8.2f} s wall {cpu:8.2f} s CPU{ratio}", flush=True)
    if difference is not None:
        print(f"  max |difference| from the baseline: {difference:.2e}")


def plain_sentence_scores(model: Any, tokenizer: Any, texts: list[str], max_length: int) -> list[np.ndarray]:
    out = []
    with torch.inference_mode():
        for text in texts:
            ids = [tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]
            ids_t = torch.tensor([ids[:max_length]])
            logits = model(input_ids=ids_t).logits[0, :-1].double()
            out.append(torch.log_softmax(logits, -1).gather(1, ids_t[0, 1:, None]).squeeze(1).numpy())
    return out


def plain_request_scores(model: Any, requests: list[Any]) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for request in requests:
            ids = torch.tensor([request.tokens[:-1]])
            logits = model(input_ids=ids).logits[0, -request.n_continuation :].double()
            targets = torch.tensor(request.tokens[-request.n_continuation :])
            out.append(float(torch.log_softmax(logits, -1)[torch.arange(len(targets)), targets].sum()))
    return np.array(out)


def step_times(
    model: Any, tokenizer: Any, texts: list[str], args: argparse.Namespace
) -> dict[str, tuple[float, float]]:
    """Median per-step (wall, CPU) of a training step on `args.threads` threads and on one, alternating."""
    optimizer, _ = make_adamw(model, 1e-4, 0.01, "auto")
    size = args.train_batch_size
    batches = []
    for start in range(0, len(texts), size):
        encoded = tokenizer(
            texts[start : start + size],
            padding=True,
            truncation=True,
            max_length=args.train_max_length,
            return_tensors="pt",
        )
        batches.append((encoded["input_ids"], encoded["attention_mask"]))

    def one_step(index: int) -> None:
        ids, mask = batches[index % len(batches)]
        logits = model(input_ids=ids, attention_mask=mask).logits
        lm_loss_from_logits(logits, causal_labels(ids, mask), "causal").backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.train()
    one_step(0)  # allocates the optimizer state: untimed
    samples: dict[str, list[tuple[float, float]]] = {f"{args.threads} threads": [], "1 thread": []}
    for index in range(1, 2 * args.thread_steps + 1):
        name = list(samples)[index % 2]
        torch.set_num_threads(args.threads if index % 2 == 0 else 1)
        _, wall, cpu = timed(lambda index=index: one_step(index))
        samples[name].append((wall, cpu))
    torch.set_num_threads(args.threads)
    model.eval()
    return {
        name: (statistics.median(w for w, _ in rows), statistics.median(c for _, c in rows))
        for name, rows in samples.items()
    }


def compare(
    title: str,
    baseline: tuple[str, Callable[[], list[Any]]],
    ours: tuple[str, Callable[[], list[Any]]],
    args: argparse.Namespace,
) -> bool:
    """Time both `args.repeats` times (fastest kept), report them and the largest score difference; True when
    the scores agree within `args.tolerance`."""
    rows: dict[str, tuple[float, float]] = {}
    worst = 0.0
    for _ in range(args.repeats):
        results = []
        for name, run in (baseline, ours):
            result, wall, cpu = timed(run)
            rows[name] = min(rows.get(name, (1e9, 1e9)), (wall, cpu))
            results.append(result)
        worst = max(worst, max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(*results)))
    report(title, rows, baseline[0], worst)
    return worst <= args.tolerance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--sentences", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--zeroshot-examples", type=int, default=60)
    parser.add_argument("--task-dir", type=Path, default=REPO / "results/real/data/downstream/sst2")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--train-batch-size", type=int, default=8)
    parser.add_argument("--train-max-length", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--thread-steps", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["scoring", "zeroshot", "training", "threads"])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    loaded = load_model_dir(args.model_dir)
    model, tokenizer = loaded.model.eval(), loaded.tokenizer
    print(
        f"{args.model_dir}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, {args.threads} threads"
    )
    ok = True

    if "scoring" not in args.skip:
        texts = sentences(args.sentences)
        ok &= compare(
            f"sentence scoring: {len(texts)} WikiText-2 sentences",
            ("one forward per sentence", lambda: plain_sentence_scores(model, tokenizer, texts, args.max_length)),
            (
                "fairforget batched",
                lambda: (
                    score_texts(
                        model, tokenizer, "causal", texts, batch_size=args.batch_size, max_length=args.max_length
                    ).logprob
                ),
            ),
            args,
        )

    if "zeroshot" not in args.skip:
        task = load_task(args.task_dir, args.task_dir.name)
        task = dataclasses.replace(task, dev=task.dev[: args.zeroshot_examples])
        requests = build_requests(tokenizer, task, add_bos=False, max_length=128)
        pad_id, cpu = tokenizer.pad_token_id, torch.device("cpu")
        ok &= compare(
            f"zero-shot {task.name}: {len(task.dev)} examples, {len(requests)} (prompt, answer) requests",
            ("one forward per (prompt, answer)", lambda: list(plain_request_scores(model, requests))),
            (
                "fairforget score_requests",
                lambda: list(score_requests(model, requests, args.batch_size, pad_id, cpu, progress=False)),
            ),
            args,
        )

    if "training" not in args.skip:
        texts = sentences(args.steps * args.train_batch_size, min_words=20, max_words=40)
        train_args = argparse.Namespace(
            steps=args.steps, batch_size=args.train_batch_size, max_length=args.train_max_length, mixed_precision="no"
        )

        def fresh(kind: str, _tokenizer: Any) -> torch.nn.Module:
            return load_model_dir(args.model_dir).model  # loaded before the clock starts

        rows = {}
        tokens = {}
        for repeat in range(args.repeats):
            runners = [("transformers Trainer", run_trainer), ("fairforget engine", run_engine)]
            for name, runner in runners if repeat % 2 == 0 else runners[::-1]:
                n, wall, cpu = runner("causal", tokenizer, texts, train_args, fresh)
                tokens[name] = n
                rows[name] = min(rows.get(name, (1e9, 1e9)), (wall, cpu))
        report(
            f"training: {args.steps} steps x {args.train_batch_size} texts (<= {args.train_max_length} tokens), "
            f"{tokens} tokens",
            rows,
            "transformers Trainer",
            None,
        )
    if "threads" not in args.skip and args.threads > 1:
        texts = sentences(args.train_batch_size * 2, min_words=20, max_words=40)
        report(
            f"training step threads: {args.train_batch_size} texts (<= {args.train_max_length} tokens) per step, "
            f"median of {args.thread_steps} steps each (load average {os.getloadavg()[0]:.1f} at the start)",
            step_times(load_model_dir(args.model_dir).model, tokenizer, texts, args),
            f"{args.threads} threads",
            None,
        )
    if not ok:
        print(f"FAIL: scores differ from the baseline by more than {args.tolerance}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

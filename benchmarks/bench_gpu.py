"""GPU efficiency of the fairforget training engine: tokens/s and model-FLOPs utilisation (MFU) of paper-sized,
randomly initialised models, for each efficiency feature, as a ratio against a baseline measured in the same run.

Models (built from config, nothing downloaded): BertForMaskedLM sized like bert-base-uncased (110M parameters,
sequences up to 512 tokens) and LlamaForCausalLM sized like Llama-3.2-1B (hidden 2048, 16 layers, 32 heads,
8 KV heads, intermediate 8192, vocabulary 128256, tied embeddings; 1.24B parameters; sequences up to 1024).
Data: synthetic token ids, lengths uniform in [max_len / 8, max_len], right-padded to the longest of each
batch (the engine's collate); MLM masking 15% for BERT, next-token loss for Llama; weights stay float32.

Variants (cumulative; each trained with `TrainingLoop.run` for --warmup-steps untimed + --steps timed steps):
  baseline  fp32, eager attention, unfused AdamW (foreach), random-length batches
  bf16      + bf16 autocast (accelerate mixed_precision="bf16")
  sdpa      + attention through torch's scaled_dot_product_attention (transformers' default)
  fused     + fused AdamW kernel
  grouped   + length grouping (TrainSettings.group_by_length: batches of similar length, less padding)
  packed    fused's settings on sequences all of max_len tokens, the shape of packed blocks (training.packing):
            no padding; the issue-15 target for bert-base at 512-token blocks is MFU >= 40% (not yet measured)

Timing: from the collate of the first timed micro-batch (after torch.cuda.synchronize) to the end of `fit`
(synchronized); tokens = non-padding tokens of the timed batches. Batch widths are rounded up to a multiple
of --pad-multiple (64), and before timing each variant runs one untimed forward + backward per possible width:
per-shape first-call costs (attention kernel plans, allocator growth) otherwise land in whichever variant first
meets a width, which made the first H200 runs order-dependent (sdpa 0.57x, then fused 4.6x with the same kernels).
MFU = (6 * N * tokens + attention) / seconds / peak, with N = the model's parameter count (tied embeddings
once: their lookup costs nothing and their use as the output layer costs 6 * hidden * vocab per token) and
attention = 12 * layers * hidden * len^2 per sequence of len real tokens (PaLM's convention, no causal
halving), against --peak-flops (default 989e12: H100/H200 SXM bf16 dense), for every variant, fp32 included.

Needs only torch, transformers, accelerate and the engine modules (no polars), so it runs on a bare GPU node:
    PYTHONPATH=src python benchmarks/bench_gpu.py --out results/bench_gpu      # one GPU, about 2-4 minutes
    PYTHONPATH=src python benchmarks/bench_gpu.py --tiny --device cpu --out /tmp/bench_gpu   # smoke test
Writes DIR/bench_gpu.json and DIR/bench_gpu.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {"mixed_precision": "no", "attn": "eager", "optimizer_impl": "foreach", "group_by_length": False},
    "bf16": {"mixed_precision": "bf16", "attn": "eager", "optimizer_impl": "foreach", "group_by_length": False},
    "sdpa": {"mixed_precision": "bf16", "attn": "sdpa", "optimizer_impl": "foreach", "group_by_length": False},
    "fused": {"mixed_precision": "bf16", "attn": "sdpa", "optimizer_impl": "fused", "group_by_length": False},
    "grouped": {"mixed_precision": "bf16", "attn": "sdpa", "optimizer_impl": "fused", "group_by_length": True},
    # a packed block (training.packing) is a full-length sequence: no padding; not cumulative on `grouped`
    "packed": {
        "mixed_precision": "bf16",
        "attn": "sdpa",
        "optimizer_impl": "fused",
        "group_by_length": False,
        "packed": True,
    },
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "masked" | "causal"
    config: dict[str, Any]
    max_len: int
    batch_size: int


def model_specs(tiny: bool) -> list[ModelSpec]:
    if tiny:
        return [
            ModelSpec(
                "bert-tiny",
                "masked",
                {
                    "vocab_size": 128,
                    "hidden_size": 32,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 2,
                    "intermediate_size": 64,
                    "max_position_embeddings": 64,
                },
                32,
                4,
            ),
            ModelSpec(
                "llama-tiny",
                "causal",
                {
                    "vocab_size": 128,
                    "hidden_size": 32,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 4,
                    "num_key_value_heads": 2,
                    "intermediate_size": 64,
                    "max_position_embeddings": 64,
                    "tie_word_embeddings": True,
                },
                48,
                4,
            ),
        ]
    return [
        # bert-base-uncased's architecture (BertConfig's defaults are bert-base: 768 x 12, vocab 30522)
        ModelSpec("bert-base-uncased (random init)", "masked", {"vocab_size": 30522}, 512, 32),
        ModelSpec(
            "Llama-3.2-1B (random init)",
            "causal",
            {
                "vocab_size": 128256,
                "hidden_size": 2048,
                "num_hidden_layers": 16,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
                "intermediate_size": 8192,
                "max_position_embeddings": 131072,
                "tie_word_embeddings": True,
                "bos_token_id": 128000,
                "eos_token_id": 128001,
            },
            1024,
            8,
        ),
    ]


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:6.1f} s] {message}", flush=True)


def build_model(spec: ModelSpec, attn: str, device: Any, seed: int = 0) -> Any:
    import torch
    from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM

    config_class, model_class = (
        (BertConfig, BertForMaskedLM) if spec.kind == "masked" else (LlamaConfig, LlamaForCausalLM)
    )
    config = config_class(attn_implementation=attn, pad_token_id=0, **spec.config)
    torch.manual_seed(seed)
    with torch.device(device):  # initialise on the device: a 1B model initialises in seconds there
        model = model_class(config)
    return model


def synthetic_data(spec: ModelSpec, n_examples: int, seed: int = 0) -> tuple[Any, list[dict[str, Any]]]:
    """Random ids [n, max_len] (ids >= 5, clear of pad/special ids) and examples {"row", "length"}."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    vocab = int(spec.config["vocab_size"])
    ids = torch.randint(5, vocab, (n_examples, spec.max_len), generator=generator)
    lengths = torch.randint(max(2, spec.max_len // 8), spec.max_len + 1, (n_examples,), generator=generator)
    return ids, [{"row": i, "length": int(n)} for i, n in enumerate(lengths.tolist())]


class TimedCollate:
    """Pads a batch of synthetic examples (right padding to the batch's longest), MLM-masks for BERT, counts
    real tokens and attention work from micro-batch `timed_from` on, and marks the timing start there."""

    def __init__(self, spec: ModelSpec, ids: Any, timed_from: int, device: Any, pad_multiple: int) -> None:
        self.spec, self.ids, self.timed_from, self.device = spec, ids, timed_from, device
        self.pad_multiple = pad_multiple
        self.calls = 0
        self.tokens = 0
        self.attention_len2 = 0  # sum over timed sequences of len^2
        self.padded_tokens = 0
        self.started: float | None = None

    def __call__(self, examples: list[dict[str, Any]], generator: Any) -> dict[str, Any]:
        import torch

        from fairforget.training.lm import IGNORE_INDEX

        if self.calls == self.timed_from:
            synchronize(self.device)
            self.started = time.perf_counter()
        self.calls += 1
        lengths = torch.tensor([e["length"] for e in examples])
        width = padded_width(int(lengths.max()), self.spec.max_len, self.pad_multiple)
        rows = torch.tensor([e["row"] for e in examples])
        input_ids = self.ids[rows, :width].clone()
        attention_mask = (torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)).long()
        input_ids[attention_mask == 0] = 0
        if self.spec.kind == "masked":
            chosen = (torch.rand(input_ids.shape, generator=generator) < 0.15) & attention_mask.bool()
            labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
            input_ids = torch.where(chosen, torch.full_like(input_ids, 4), input_ids)  # 4: a stand-in [MASK]
        else:
            labels = torch.where(attention_mask.bool(), input_ids, torch.full_like(input_ids, IGNORE_INDEX))
        if self.started is not None:
            self.tokens += int(lengths.sum())
            self.padded_tokens += width * len(examples)
            self.attention_len2 += int((lengths**2).sum())
        return {
            "input_ids": input_ids.to(self.device, non_blocking=True),
            "attention_mask": attention_mask.to(self.device, non_blocking=True),
            "labels": labels.to(self.device, non_blocking=True),
            "kind": self.spec.kind,
        }


def padded_width(longest: int, max_len: int, multiple: int) -> int:
    """The batch width: the longest length rounded up to `multiple` (at most max_len). Bounded widths keep the
    set of tensor shapes small, so per-shape start-up costs (kernel plans, allocator growth) stay out of the
    steady state that a long training run sees."""
    return min(-(-longest // multiple) * multiple, max_len)


def prewarm(model: Any, spec: ModelSpec, options: dict[str, Any], device: Any, pad_multiple: int) -> int:
    """One untimed forward + backward per possible batch width (under the variant's autocast), gradients
    dropped, weights untouched: the timed steps then measure steady-state throughput, not the first call of each
    shape. Returns the number of widths warmed."""
    import torch

    widths = sorted(
        {padded_width(n, spec.max_len, pad_multiple) for n in range(max(2, spec.max_len // 8), spec.max_len + 1)}
    )
    dtype = torch.bfloat16 if options["mixed_precision"] == "bf16" else None
    for width in widths:
        ids = torch.randint(5, int(spec.config["vocab_size"]), (spec.batch_size, width), device=device)
        with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None):
            loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
    synchronize(device)
    return len(widths)


def synchronize(device: Any) -> None:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize()


def run_variant(spec: ModelSpec, variant: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from fairforget.training.lm import lm_loss
    from fairforget.training.loop import TrainingLoop
    from fairforget.training.run import make_accelerator
    from fairforget.training.settings import TrainSettings

    options = VARIANTS[variant]
    total_steps = args.warmup_steps + args.steps
    settings = TrainSettings(
        max_steps=total_steps,
        batch_size=spec.batch_size,
        learning_rate=1e-4,
        warmup_ratio=0.0,
        checkpoint_every_steps=10**9,
        mixed_precision=options["mixed_precision"],
        optimizer_impl=options["optimizer_impl"],
        group_by_length=options["group_by_length"],
        seed=0,
    )
    accelerator = make_accelerator(settings)
    device = accelerator.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    model = build_model(spec, options["attn"], device)
    n_params = sum(p.numel() for p in model.parameters())
    # a pool big enough for full 50-batch length-grouping windows (ExampleOrder: n >= 4 * 50 batches)
    ids, examples = synthetic_data(spec, max(total_steps, 200) * spec.batch_size)
    if options.get("packed"):
        examples = [{**example, "length": spec.max_len} for example in examples]
    warmed = prewarm(model, spec, options, device, args.pad_multiple) if args.prewarm else 0
    collate = TimedCollate(spec, ids, args.warmup_steps, device, args.pad_multiple)
    lengths = [e["length"] for e in examples]
    loop = TrainingLoop(
        settings, accelerator, model, examples, collate, lm_loss, lengths=lengths, desc=f"{spec.name} {variant}"
    )
    result = loop.run()
    synchronize(device)
    seconds = time.perf_counter() - (collate.started or float("nan"))
    config = model.config
    hidden, layers = int(config.hidden_size), int(config.num_hidden_layers)
    flops = 6 * n_params * collate.tokens + 12 * layers * hidden * collate.attention_len2
    row = {
        "model": spec.name,
        "variant": variant,
        **options,
        "optimizer_used": result.optimizer_impl,
        "attn_used": getattr(config, "_attn_implementation", None),
        "device": str(device),
        "n_params": n_params,
        "batch_size": spec.batch_size,
        "max_len": spec.max_len,
        "timed_steps": args.steps,
        "pad_multiple": args.pad_multiple,
        "widths_prewarmed": warmed,
        "tokens": collate.tokens,
        "padded_tokens": collate.padded_tokens,
        "seconds": seconds,
        "tokens_per_second": collate.tokens / seconds,
        "model_flops": flops,
        "mfu": flops / seconds / args.peak_flops,
        "final_loss": result.final_loss,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None,
    }
    accelerator.free_memory()
    del model, accelerator, loop, result
    if device.type == "cuda":  # give the next variant the whole device
        gc.collect()
        torch.cuda.empty_cache()
    return row


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"# Training-engine GPU efficiency ({meta['date']})",
        "",
        (
            f"Device: {meta['device_name']}; torch {meta['torch']}, transformers {meta['transformers']}; "
            f"peak {meta['peak_flops']:.3g} FLOP/s; {meta['warmup_steps']} warm-up + {meta['steps']} timed steps; "
            f"batch widths rounded up to a multiple of {meta['pad_multiple']}"
            f"{', one untimed step per width first' if meta['prewarm'] else ''}."
        ),
        (
            "MFU = (6 N tokens + 12 L d sum(len^2)) / s / peak. Ratios are against the same model's baseline "
            "(fp32, eager attention, foreach AdamW, random-length batches)."
        ),
        "",
        "| model | variant | tokens/s | ratio | MFU | padding | peak GiB | final loss |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['variant']} | {r['error']} | | | | | |")
            continue
        memory = "" if r["peak_memory_gib"] is None else f"{r['peak_memory_gib']:.1f}"
        padding = 1 - r["tokens"] / r["padded_tokens"] if r["padded_tokens"] else 0.0
        lines.append(
            f"| {r['model']} | {r['variant']} | {r['tokens_per_second']:,.0f} | "
            f"{r.get('ratio_vs_baseline', float('nan')):.2f} | {100 * r['mfu']:.1f}% | "
            f"{100 * padding:.0f}% | {memory} | {r['final_loss']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="directory for bench_gpu.json and bench_gpu.md")
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None, help="default: cuda if available")
    parser.add_argument("--tiny", action="store_true", help="tiny models and sequences (smoke test)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant (default 12; tiny 2)")
    parser.add_argument("--warmup-steps", type=int, default=None, help="untimed steps first (default 3; tiny 1)")
    parser.add_argument("--peak-flops", type=float, default=989e12, help="peak bf16 dense FLOP/s of the device")
    parser.add_argument("--models", default="bert,llama", help="comma list of: bert, llama")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of: {', '.join(VARIANTS)}")
    parser.add_argument(
        "--pad-multiple", type=int, default=None, help="round batch widths up to this multiple (default 64; tiny 8)"
    )
    parser.add_argument(
        "--no-prewarm",
        dest="prewarm",
        action="store_false",
        help="do not run one untimed step per batch width before timing",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        default=330.0,
        help="skip the variants left once this much wall time has passed (default 330)",
    )
    args = parser.parse_args(argv)
    args.steps = args.steps if args.steps is not None else (2 if args.tiny else 12)
    args.warmup_steps = args.warmup_steps if args.warmup_steps is not None else (1 if args.tiny else 3)
    args.pad_multiple = args.pad_multiple if args.pad_multiple is not None else (8 if args.tiny else 64)
    if args.pad_multiple < 1:
        parser.error("--pad-multiple must be >= 1")
    if args.steps < 1 or args.warmup_steps < 1:
        parser.error("--steps and --warmup-steps must be >= 1 (the first step is never timed)")
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # accelerate takes the GPU whenever one is visible
    import torch
    import transformers

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or "baseline" not in variants:
        parser.error(f"--variants: unknown {unknown}; allowed {list(VARIANTS)}, and baseline is required")
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    specs = [
        s
        for s in model_specs(args.tiny)
        if s.kind == "masked" and "bert" in wanted or s.kind == "causal" and "llama" in wanted
    ]
    if not specs:
        parser.error("--models: choose from bert, llama")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 baseline means fp32 (torch's default), said explicitly
    say(
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"device {'cuda: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}"
    )
    rows: list[dict[str, Any]] = []
    for spec in specs:
        baseline: float | None = None
        for variant in variants:
            if time.perf_counter() - STARTED > args.budget_s:
                say(f"{spec.name} {variant}: skipped (past --budget-s {args.budget_s:.0f})")
                rows.append({"model": spec.name, "variant": variant, "error": "skipped (time budget)"})
                continue
            say(f"{spec.name} {variant}: start")
            try:
                row = run_variant(spec, variant, args)
            except torch.cuda.OutOfMemoryError as error:  # record it and go on with the next variant
                gc.collect()
                torch.cuda.empty_cache()
                say(f"{spec.name} {variant}: out of memory ({str(error).splitlines()[0]})")
                rows.append({"model": spec.name, "variant": variant, "error": "out of memory"})
                continue
            if variant == "baseline":
                baseline = row["tokens_per_second"]
            row["ratio_vs_baseline"] = row["tokens_per_second"] / baseline if baseline else float("nan")
            rows.append(row)
            say(
                f"{spec.name} {variant}: {row['tokens_per_second']:,.0f} tokens/s "
                f"(x{row['ratio_vs_baseline']:.2f}), MFU {100 * row['mfu']:.1f}%, loss {row['final_loss']:.3f}"
            )
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device_name": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu",
        "peak_flops": args.peak_flops,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "tiny": args.tiny,
        "pad_multiple": args.pad_multiple,
        "prewarm": args.prewarm,
        "wall_seconds": time.perf_counter() - STARTED,
        "mfu_formula": "(6 * n_params * tokens + 12 * layers * hidden * sum(len^2)) / seconds / peak_flops",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_gpu.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    (args.out / "bench_gpu.md").write_text(markdown(rows, meta))
    say(f"wrote {args.out / 'bench_gpu.json'} and {args.out / 'bench_gpu.md'}")
    print(markdown(rows, meta), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

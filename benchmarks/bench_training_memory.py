"""Peak memory of a fine-tuning run's data path vs corpus size: the bounded path against the former list path.

    python benchmarks/bench_training_memory.py [--tokens 100000 1000000 10000000] [--block-size 128]

A synthetic debiasing corpus (every text names a gendered word, 20-60 words, as `source.arrow` holds the gendered
chunks) of about N tokens, and a general corpus of as many texts (`replay.arrow`), are written once per size with a
small WordPiece tokenizer trained on the same vocabulary (the toy models' kind: a word is one token). Each path then
runs in its own subprocess and does what a packed `cda` + `replay` (ratio 0.5) run does before its first optimizer
step (no model, no optimizer):

- bounded (this code): `finetune.build_context` (memory-mapped text tables, the subset as an index array), the
  `cda` objective's examples and the `replay` remedy's (computed on demand), their fingerprint, packing into
  memory-mapped block files, the block examples;
- former (the list code it replaced, reproduced here from the former `finetune.build_context`, `cda`, `replay`,
  `training.run.train` and `packing.pack_texts`): every text in a list (read from JSONL copies of the same
  files), the list subset, a dict per CDA example and per replayed text, `canonical_json_hash` of the examples, every
  token id in memory, a dict per block.

Peak RSS per process: total (VmHWM, which also counts touched pages of memory-mapped files) and anonymous
(RssAnon sampled every 10 ms: the process's own allocations). Prints both per size, the ratio bounded / former, and
whether the bounded path stays flat (within 20%) from the smallest to the largest size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_corpus import print_flatness, run_measured

WORDS = (
    "the of and in a to was is for on as by with at from that which city river team album song war season film "
    "road school church league station village county party army world year years first new later two three"
).split()
GENDERED = "he she his her him man woman king queen father mother son daughter brother sister".split()
SEED = 0
RATIO = 0.5  # replay: general texts per objective example


def _text(rng: random.Random, gendered: bool) -> str:
    words = rng.choices(WORDS, k=rng.randint(20, 60))
    if gendered:
        for _ in range(rng.randint(1, 3)):
            words[rng.randrange(len(words))] = rng.choice(GENDERED)
    return " ".join(words) + " ."


def write_data(folder: Path, n_tokens: int) -> dict[str, Any]:
    """source.arrow / replay.arrow (and JSONL copies for the former path), pairs, word pairs and a tokenizer."""
    from fairforget.data.cda import load_word_pairs
    from fairforget.data.texttable import write_text_table
    from fairforget.io import write_json, write_jsonl
    from fairforget.models.toy import train_tokenizer

    rng = random.Random(SEED)
    data = folder / "data"
    tokenizer = train_tokenizer([_text(rng, True) for _ in range(2000)], "masked", 200, model_max_length=512)
    tokenizer.save_pretrained(str(folder / "tokenizer"))
    source: list[dict[str, str]] = []
    tokens = 0
    while tokens < n_tokens:
        batch = [_text(rng, True) for _ in range(2000)]
        lengths = [len(ids) for ids in tokenizer(batch)["input_ids"]]
        for text, length in zip(batch, lengths, strict=True):
            if tokens >= n_tokens:
                break
            source.append({"id": f"d{len(source)}", "text": text, "origin": "general"})
            tokens += length
    general = [{"id": f"g{i}", "text": _text(rng, False)} for i in range(len(source))]
    write_text_table(data / "debias" / "source.arrow", source, ("id", "text", "origin"))
    write_text_table(data / "debias" / "replay.arrow", general, ("id", "text"))
    write_jsonl(data / "debias" / "source.jsonl", source)
    write_jsonl(data / "general" / "pretrain.jsonl", general)
    write_jsonl(data / "debias" / "pairs.jsonl", [{"stereo": "he is a nurse", "anti": "she is a nurse"}])
    write_json(data / "debias" / "word_pairs.json", {"pairs": [list(p) for p in load_word_pairs()]})
    return {"texts": len(source), "tokens": tokens}


def bounded_path(folder: Path, block_size: int) -> dict[str, int]:
    """What `training.run.train` does with the data of a packed cda + replay run, with this code."""
    from transformers import PreTrainedTokenizerFast

    from fairforget.paths import Run
    from fairforget.training.examples import ExampleTexts, examples_fingerprint
    from fairforget.training.finetune import build_context
    from fairforget.training.job import finetune_data_files
    from fairforget.training.packing import block_examples, pack_texts
    from fairforget.training.plugins import OBJECTIVES, REMEDIES

    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder / "tokenizer"))
    run = Run("bench", "cda", "replay", "full", SEED)
    ctx = build_context(finetune_data_files(folder), "masked", tokenizer, run, block_size, 0.15)
    examples = OBJECTIVES.get("cda")(sided="two").build_examples(ctx)
    examples = REMEDIES.get("replay")(ratio=RATIO).transform_examples(examples, ctx)
    examples_fingerprint(examples)
    blocks = pack_texts(tokenizer, ExampleTexts(examples), block_size, SEED, folder=folder / "packed", name="blocks")
    n_blocks = len(block_examples(blocks))
    return {"examples": len(examples), "blocks": n_blocks, "packed_tokens": blocks.corpus_tokens}


def former_path(folder: Path, block_size: int) -> dict[str, int]:
    """The same with the former list code (reproduced from the code this branch replaced)."""
    import numpy as np
    import torch
    from transformers import PreTrainedTokenizerFast

    from fairforget.data.cda import augment, read_word_pairs_json
    from fairforget.hashing import canonical_json_hash
    from fairforget.io import read_jsonl
    from fairforget.training import lm
    from fairforget.training.finetune import subset_texts

    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder / "tokenizer"))
    data = folder / "data"
    texts = [str(r["text"]) for r in read_jsonl(data / "debias" / "source.jsonl", required=("text",))]
    texts = subset_texts(texts, "full", SEED)
    general = [str(r["text"]) for r in read_jsonl(data / "general" / "pretrain.jsonl", required=("text",))]
    records = augment(list(texts), read_word_pairs_json(data / "debias" / "word_pairs.json"), sided="two")
    examples: list[dict[str, Any]] = [
        {"type": "text", "text": r["text"], "id": r["id"], "counterfactual": bool(r["counterfactual"])} for r in records
    ]
    n, rng, chosen = round(RATIO * len(examples)), random.Random(SEED), []
    while len(chosen) < n:
        order = list(range(len(general)))
        rng.shuffle(order)
        chosen.extend(general[i] for i in order[: n - len(chosen)])
    examples = list(examples) + [{"type": "text", "text": t, "replay": True} for t in chosen]
    canonical_json_hash(examples)
    stream = lm.example_texts(examples)
    order = torch.randperm(len(stream), generator=torch.Generator().manual_seed(SEED * 1_000_003 + 29)).tolist()
    id_chunks, special_chunks = [], []
    for start in range(0, len(order), 2048):
        chunk = [stream[i] for i in order[start : start + 2048]]
        encoded = tokenizer(chunk, return_special_tokens_mask=True, return_attention_mask=False, verbose=False)
        id_chunks.append(np.fromiter((t for row in encoded["input_ids"] for t in row), dtype=np.int32))
        special_chunks.append(np.fromiter((bool(t) for row in encoded["special_tokens_mask"] for t in row), dtype=bool))
    ids, special = np.concatenate(id_chunks), np.concatenate(special_chunks)
    n_blocks = len(ids) // block_size
    keep = n_blocks * block_size
    input_ids = torch.from_numpy(ids[:keep].reshape(n_blocks, block_size).copy())
    torch.from_numpy(special[:keep].reshape(n_blocks, block_size).copy())
    blocks = [{"type": "block", "block": k} for k in range(int(input_ids.shape[0]))]
    return {"examples": len(examples), "blocks": len(blocks), "packed_tokens": len(ids)}


def _child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    path = bounded_path if args.child == "bounded" else former_path
    # imports before the measured part count too (RSS is the whole process): both paths pay the same ones
    print(json.dumps(run_measured(lambda: path(Path(args.folder), args.block_size))))


def measure(which: str, folder: Path, block_size: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", which, "--folder", str(folder), "--block-size", str(block_size)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--child", choices=["bounded", "former"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    print("peak RSS (MiB) of the training data path, one subprocess each: total (VmHWM) / anonymous (RssAnon)")
    bounded_total, bounded_anon = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n_tokens in args.tokens:
            folder = Path(tmp) / f"t{n_tokens}"
            size = write_data(folder, n_tokens)
            ours = measure("bounded", folder, args.block_size)
            theirs = measure("former", folder, args.block_size)
            assert ours["result"] == theirs["result"], (ours["result"], theirs["result"])
            bounded_total.append(ours["maxrss_mib"])
            bounded_anon.append(ours["max_anon_mib"])
            print(
                f"  {size['tokens']:>11,} tokens ({size['texts']:,} texts, {ours['result']['examples']:,} examples, "
                f"{ours['result']['blocks']:,} blocks): bounded {ours['maxrss_mib']:.0f} / {ours['max_anon_mib']:.0f}"
                f" ({ours['seconds']:.1f} s), former {theirs['maxrss_mib']:.0f} / {theirs['max_anon_mib']:.0f} "
                f"({theirs['seconds']:.1f} s); ratio bounded/former {ours['maxrss_mib'] / theirs['maxrss_mib']:.2f}"
                f" / {ours['max_anon_mib'] / theirs['max_anon_mib']:.2f}"
            )
    print_flatness("bounded path", bounded_total, bounded_anon)


if __name__ == "__main__":
    main()

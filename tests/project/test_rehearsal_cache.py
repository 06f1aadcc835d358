"""The paper rehearsal's pieces that need no Snakemake run: the Wikipedia-format datasets cache that
tools/build_rehearsal_cache.py writes resolves paper.yaml's `{hf: wikimedia/wikipedia, ...}` offline through the
corpus code; a bf16 hub checkpoint resolves to fp32 weights; `fairforget plan` merges overlays as Snakemake does."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import datasets.config
import pytest
import torch
from snakemake.utils import update_config, validate

from conftest import load_config
from fairforget.cli import main
from fairforget.config import run_grid, size_label
from fairforget.config.schema import SCHEMA
from fairforget.data.corpus import check_available, load_raw, parse_corpus, parse_replay_corpus
from fairforget.data.glue import TASKS
from fairforget.models.hub import resolve_hub_model
from fairforget.models.modeldir import load_model_dir
from fairforget.workflow.plan import plan_study
from workflow_helpers import REPO

spec = importlib.util.spec_from_file_location("build_rehearsal_cache", REPO / "tools" / "build_rehearsal_cache.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)


def test_wikipedia_articles_from_the_shipped_text() -> None:
    articles = build.wikipedia_articles()
    raw = "".join(p.read_text(encoding="utf-8") for p in build.WIKITEXT)
    # one article per top-level ` = Title = ` line of WikiText-2 valid+test (legend lines such as
    # ` = National record ` have no closing `=`: text)
    titles = [line for line in raw.splitlines() if line.startswith(" = ") and line.endswith(" = ") and line[3] != "="]
    assert len(articles) == len(titles)
    first = articles[0]
    assert set(first) == {"id", "url", "title", "text"}
    assert first["url"] == "https://en.wikipedia.org/wiki/" + first["title"].replace(" ", "_")
    # section headings are plain lines, as in the Wikipedia dump, never WikiText's `= = X = =`
    assert not any(line.startswith(" =") for a in articles for line in a["text"].split("\n\n"))


def test_paper_corpus_spec_resolves_offline_from_the_built_cache(tmp_path: Path, monkeypatch) -> None:
    record = build.build_wikipedia(tmp_path, shards=3)
    snapshot = tmp_path / "hub" / "datasets--wikimedia--wikipedia" / "snapshots" / record["commit"]
    assert (tmp_path / "hub" / "datasets--wikimedia--wikipedia" / "refs" / "main").read_text() == record["commit"]
    assert sorted(p.name for p in (snapshot / "20231101.en").iterdir()) == [
        f"train-{k:05d}-of-00003.parquet" for k in range(3)
    ]
    # the cache a node reads: the datasets cache under HF_HOME, offline
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    paper = load_config("paper.yaml")
    for specs in (parse_corpus(paper["data"]["debias"]), parse_replay_corpus(paper["data"]["general"])):
        check_available(specs)
        rows = load_raw(specs[0])
        assert rows.column_names == ["id", "url", "title", "text"]
        assert len(rows) == round(0.1 * record["articles"])  # paper's fraction, a prefix
        assert rows[0]["title"] == build.wikipedia_articles()[0]["title"]


def test_bf16_hub_checkpoint_resolves_to_fp32_weights(tmp_path: Path) -> None:
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    # a tiny Llama stored as Llama 3.2 is on the hub: config.json as written there, bf16 safetensors
    config = dict(
        build.LLAMA_CONFIG,
        hidden_size=32,
        intermediate_size=64,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        num_hidden_layers=1,
        vocab_size=300,
        bos_token_id=1,
        eos_token_id=2,
        max_position_embeddings=256,
    )
    snapshot = build.snapshot_dir(tmp_path / "hub", "model", "org/tiny-llama", "a" * 40)
    (snapshot / "config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig.from_pretrained(snapshot))
    stored = {k: v.to(torch.bfloat16).contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(stored, str(snapshot / "model.safetensors"), metadata={"format": "pt"})
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({f"w{i}": i for i in range(299)} | {"<unk>": 299}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>").save_pretrained(snapshot)

    resolve_hub_model("org/tiny-llama", "causal", tmp_path / "resolved", cache_dir=tmp_path / "hub")
    loaded = load_model_dir(tmp_path / "resolved").model
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    weight = loaded.model.embed_tokens.weight
    assert torch.equal(weight, stored["model.embed_tokens.weight"].float())
    assert loaded.config.rope_parameters["rope_type"] == "llama3"


def test_plan_merges_config_overlays_as_snakemake_does(capsys) -> None:
    paper, rehearsal = REPO / "config" / "paper.yaml", REPO / "config" / "rehearsal.yaml"
    merged = copy.deepcopy(load_config("paper.yaml"))
    update_config(merged, load_config("rehearsal.yaml"))
    validate(merged, str(SCHEMA), set_default=True)
    rows = {row.rule: row.jobs for row in plan_study(merged, REPO)[0]}
    assert main(["plan", "--configfile", str(paper), str(rehearsal), "--base-dir", str(REPO)]) == 0
    printed = {
        line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[1:] if line[:1].isalpha()
    }
    for rule, jobs in rows.items():
        assert printed[rule] == f"{jobs:,}"
    # the overlay ran a covering set of paper's grid (`grid_subset`, one seed): every model, objective, remedy and
    # data size in at least one run, far fewer runs than their cross product
    runs = run_grid(merged)
    assert rows["finetune"] == len(runs) < 2 * 6 * 5 * 3
    for axis, field in (("models", "model"), ("objectives", "objective"), ("remedies", "remedy")):
        assert {getattr(run, field) for run in runs} == set(merged[axis])
    assert {run.size for run in runs} == {size_label(size) for size in merged["data_sizes"]}


@pytest.mark.parametrize("key", ["objectives", "remedies", "data_sizes"])
def test_rehearsal_keeps_papers_arms(key: str) -> None:
    paper = load_config("paper.yaml")
    merged = copy.deepcopy(paper)
    update_config(merged, load_config("rehearsal.yaml"))
    assert list(merged[key]) == list(paper[key])
    assert merged["models"].keys() == paper["models"].keys()
    for name, model in paper["models"].items():
        for kept in ("kind", "source", "hub_id"):
            assert merged["models"][name][kept] == model[kept]
        assert merged["models"][name]["training"]["block_size"] == model["training"]["block_size"]


def test_rehearsal_glue_tasks_cover_papers_downstream_paths() -> None:
    """The overlay keeps fewer GLUE tasks than paper.yaml (each is one job per base model and one per checkpoint),
    but every headline metric, both heads (classification, regression) and both inputs (one sentence, a pair) of
    paper's tasks stay in it."""
    paper = load_config("paper.yaml")["data"]["downstream"]["tasks"]
    merged = copy.deepcopy(load_config("paper.yaml"))
    update_config(merged, load_config("rehearsal.yaml"))
    kept = merged["data"]["downstream"]["tasks"]
    assert set(kept) < set(paper)

    def paths_of(tasks: list[str]) -> list[set]:
        return [
            {TASKS[task].metrics[0] for task in tasks},
            {TASKS[task].is_regression for task in tasks},
            {"{text_b}" in TASKS[task].prompt for task in tasks},
        ]

    assert paths_of(kept) == paths_of(paper)

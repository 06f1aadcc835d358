"""The debiasing corpus through 🤗 datasets (fairforget.data.corpus): the shipped route writes what the former
list-based code wrote, a synthetic "Wikipedia-like" dataset written at test time (Parquet folder read with
`load_dataset`, and a `save_to_disk` folder) goes through the data stage with the evaluation overlap still
removed, a Hub dataset absent from the cache fails with the command that fetches it, and `data_sizes`
percentages are nested."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import datasets
import pytest
import yaml

from corpus_helpers import crows_sentence, wikipedia_like
from fairforget.config.checks import check_environment
from fairforget.data.build import build_data
from fairforget.data.cda import contains_gendered_word, load_word_pairs
from fairforget.data.corpus import CorpusSpec, check_available, load_chunks, load_raw, parse_corpus
from fairforget.data.debias import gendered_candidates, prepare_replay, without_leaks
from fairforget.data.leakage import EvaluationFiles
from fairforget.data.resources import resources_dir
from fairforget.data.settings import seeded_subset
from fairforget.data.texttable import read_records as read
from fairforget.errors import ConfigError, DataError
from fairforget.training.examples import TextColumn
from fairforget.training.remedies.replay import ReplayExamples

REPO = Path(__file__).resolve().parents[3]


def micro_data_config() -> dict:
    return yaml.safe_load((REPO / "config" / "micro.yaml").read_text())["data"]


@pytest.fixture(scope="module")
def wiki_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wiki") / "wikipedia-like"
    (folder / "20231101.en").mkdir(parents=True)
    wikipedia_like(240).to_parquet(str(folder / "20231101.en" / "train-00000-of-00001.parquet"))
    return folder


def test_corpus_specs_parse_and_bad_ones_name_the_key() -> None:
    assert parse_corpus({})[0].kind == "shipped"
    hub = parse_corpus({"corpus": {"hf": "wikimedia/wikipedia", "config": "20231101.en", "fraction": 0.1}})[0]
    assert (hub.kind, hub.split, hub.fraction, hub.text_field, hub.name) == (
        "hf",
        "train",
        0.1,
        "text",
        "wikimedia_wikipedia",
    )
    assert [s.kind for s in parse_corpus({"corpus": ["wikitext2", {"path": "x.txt"}, {"disk": "d"}]})] == [
        "shipped",
        "local",
        "disk",
    ]
    with pytest.raises(ConfigError, match=r"extra_corpus' was replaced by 'data.debias.corpus'.*\[wikitext2, \{path"):
        parse_corpus({"extra_corpus": "extra.jsonl"})
    with pytest.raises(ConfigError, match=r"data\.debias\.corpus\[1\]': give exactly one of hf, path, disk"):
        parse_corpus({"corpus": ["wikitext2", {"hf": "a", "path": "b"}]})
    with pytest.raises(ConfigError, match=r"data\.debias\.corpus\.fraction': expected a number in \(0, 1\]"):
        parse_corpus({"corpus": {"hf": "a", "fraction": 0}})
    with pytest.raises(ConfigError, match="unknown key"):
        parse_corpus({"corpus": {"hf": "a", "splits": "train"}})


def test_missing_hub_dataset_stops_with_the_fetch_command(toy_config: dict) -> None:
    fetch = "python -c \"import datasets; datasets.load_dataset('org/absent-corpus', 'en', split='train')\""
    spec = parse_corpus({"corpus": {"hf": "org/absent-corpus", "config": "en"}})
    with pytest.raises(ConfigError, match=r"data\.debias\.corpus.*not in the local datasets cache") as raised:
        check_available(spec)
    assert fetch in str(raised.value)
    with pytest.raises(ConfigError) as loading:
        load_raw(spec[0])
    assert fetch in str(loading.value)
    # at workflow start: the every-parse environment check
    toy_config["data"]["debias"]["corpus"] = {"hf": "org/absent-corpus", "config": "en"}
    with pytest.raises(ConfigError, match="org/absent-corpus"):
        check_environment(toy_config)
    # the replay text's spec is checked the same way, naming its own key
    toy_config["data"]["debias"]["corpus"] = "wikitext2"
    toy_config["data"]["general"]["replay_corpus"] = {"hf": "org/absent-corpus", "config": "en"}
    with pytest.raises(ConfigError, match=r"data\.general\.replay_corpus.*not in the local datasets cache") as replay:
        check_environment(toy_config)
    assert fetch in str(replay.value)


def _former_debias_general(pretrain: Path, index, n_general: int, seed: int) -> list[dict]:
    """The list-based general draw data.debias made before the datasets route (reference implementation)."""
    pairs = load_word_pairs()
    candidates = read(pretrain)
    gendered = [r for r in candidates if contains_gendered_word(r["text"], pairs)]
    kept, _ = index.without_leaks(gendered)
    return seeded_subset(kept, n_general, seed, "debias-general")


def test_shipped_route_draws_what_the_list_code_drew(tmp_path: Path) -> None:
    config = micro_data_config()
    paths = build_data(config, tmp_path, tasks=[])
    split_args = EvaluationFiles.shipped(resources_dir(), [paths["planted_probes"]])
    index = split_args.index()
    expected = _former_debias_general(paths["pretrain"], index, config["debias"]["n_general"], config["seed"])
    general = [r for r in read(paths["source"]) if r["origin"] == "general"]
    assert sorted(r["id"] for r in general) == sorted(r["id"] for r in expected)
    assert len(read(paths["source"])) == config["debias"]["n_general"] + config["debias"]["n_planted"]
    # the default replay text (data.general.replay_corpus: wikitext2) is the pretraining text, as before
    pretrain = [{"id": r["id"], "text": r["text"]} for r in read(paths["pretrain"])]
    assert read(paths["replay"]) == pretrain


def test_replay_corpus_through_the_hub_route_and_drawn_without_loading_it(wiki_parquet: Path, tmp_path: Path) -> None:
    general = {"replay_corpus": {"hf": str(wiki_parquet), "fraction": 0.25}, "min_words": 8, "max_words": 64}
    index = EvaluationFiles.shipped(resources_dir()).index()
    meta = prepare_replay(tmp_path / "unused.jsonl", general, index, tmp_path / "replay.arrow")
    replay = read(tmp_path / "replay.arrow")
    rows = [int(r["id"].split("-")[-2]) for r in replay]
    # every chunk of the first 60 rows, gendered or not, in row order, the evaluation sentence dropped
    assert rows == sorted(rows) and max(rows) < 60 and {r % 3 for r in rows} == {0, 1, 2}
    assert crows_sentence() not in {r["text"] for r in replay}
    assert meta["n"] == len(replay) and meta["dropped_as_evaluation_overlap"]["sentence"] == 1
    # the replay remedy draws its texts from the memory-mapped table (what ctx.general_texts is in a run)
    column = TextColumn(tmp_path / "replay.arrow")
    examples = ReplayExamples([{"type": "text", "text": "he left"}] * 4, column, 10, seed=0)
    drawn = [e["text"] for e in examples[4:]]
    assert len(drawn) == 10 and set(drawn) <= {r["text"] for r in replay}


@pytest.mark.parametrize("route", ["hf", "disk"])
def test_wikipedia_like_dataset_through_the_data_stage(route: str, wiki_parquet: Path, tmp_path: Path) -> None:
    if route == "hf":
        corpus = {"hf": str(wiki_parquet), "split": "train", "fraction": 0.5, "text_field": "text"}
    else:
        datasets.load_dataset(str(wiki_parquet), split="train").save_to_disk(str(tmp_path / "saved"))
        corpus = {"disk": str(tmp_path / "saved"), "fraction": 0.5}
    config = micro_data_config()
    config["debias"].update(corpus=corpus, n_general=None)
    paths = build_data(config, tmp_path / "out", tasks=[])
    source = read(paths["source"])
    meta = json.loads((paths["source"].parent / "meta.json").read_text())
    general = [r for r in source if r["origin"] == "general"]
    pairs = load_word_pairs()
    assert general and all(contains_gendered_word(r["text"], pairs) for r in general)
    rows = {int(r["id"].split("-")[-2]) for r in general}
    assert max(rows) < 120  # fraction 0.5 of 240 articles: the first 120 rows
    assert {r % 3 for r in rows} == {1, 2}  # the articles without a gendered word give no chunk
    assert all(not r["text"].startswith("=") for r in general)  # heading lines skipped
    # the evaluation sentence quoted by article 3 was dropped, and counted
    assert crows_sentence() not in {r["text"] for r in general}
    assert meta["dropped_as_evaluation_overlap"]["general"]["sentence"] == 1
    assert meta["n_general"] == meta["n_general_gendered_available"] == len(general)
    assert meta["corpus"][0]["kind"] == route and meta["n_source"] == len(source)
    assert json.loads(paths["leakage_card"].read_text())["passed"]


def test_parallel_filters_equal_one_process(wiki_parquet: Path, tmp_path: Path) -> None:
    spec = CorpusSpec(kind="hf", location=str(wiki_parquet))
    pairs = load_word_pairs()
    index = EvaluationFiles.shipped(resources_dir()).index()
    big = datasets.concatenate_datasets([load_chunks(spec, 8, 64)] * 3)  # >= 1000 rows a process
    big.to_parquet(str(tmp_path / "chunks.parquet"))
    local = CorpusSpec(kind="local", location=str(tmp_path / "chunks.parquet"))
    results = []
    for procs in (1, 2):
        found = gendered_candidates(tmp_path / "unused.jsonl", [local], pairs, (8, 64), procs)
        kept, dropped = without_leaks(found, index, procs)
        results.append((kept["text"], dropped))
    assert results[0] == results[1] and results[0][1]["sentence"] == 3


def test_local_corpus_file_is_chunked_like_wikitext(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(
        " = Heading = \n\nShe walked along the river for an hour. It was cold.\nshort line\n", encoding="utf-8"
    )
    chunks = load_chunks(CorpusSpec(kind="local", location=str(path)), 3, 64).to_list()
    assert chunks == [{"id": "notes-000000002-000", "text": "She walked along the river for an hour. It was cold."}]
    with pytest.raises(DataError, match="file not found"):
        check_available(parse_corpus({"corpus": str(tmp_path / "absent.jsonl")}))


def test_toy_config_keeps_its_default_corpus() -> None:
    config = copy.deepcopy(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    assert "corpus" not in config["data"]["debias"]  # the default, wikitext2

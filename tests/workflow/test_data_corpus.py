"""The Hub-spec corpus route under Snakemake (micro config): a synthetic Wikipedia-like Parquet dataset written here
goes through the data stage and the leakage card; the whole micro DAG plans with percentage data sizes; a Hub
dataset missing from the cache stops `snakemake` at parse time, before any job, with the fetch command.

The whole micro study through this route (all 40 jobs) was run by hand for issue 15 (report); here only its data
stage runs, to keep CI's time. Slow tier, as tests/workflow/test_data_rules.py: each test starts Snakemake."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from corpus_helpers import crows_sentence, wikipedia_like
from fairforget.data.texttable import read_text_records
from workflow_helpers import copy_workflow, snakemake

pytestmark = pytest.mark.slow

FETCH = "python -c \"import datasets; datasets.load_dataset('org/absent-wiki', '20231101.en', split='train')\""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = copy_workflow(tmp_path_factory.mktemp("corpus") / "wf")
    wiki = work.parent / "wiki"
    wiki.mkdir()
    wikipedia_like(120).to_parquet(str(wiki / "train-00000-of-00001.parquet"))
    config = yaml.safe_load((work / "config" / "micro.yaml").read_text())
    config["data"]["debias"]["corpus"] = {"hf": str(wiki), "split": "train", "fraction": 0.5, "text_field": "text"}
    config["data"]["debias"]["n_general"] = None
    # the replay text through the same route (data.general.replay_corpus)
    config["data"]["general"]["replay_corpus"] = {"hf": str(wiki), "split": "train", "fraction": 0.25}
    config["data_sizes"] = ["10%", "50%", "full"]
    (work / "config" / "micro_hub.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    config["data"]["debias"]["corpus"] = {"hf": "org/absent-wiki", "config": "20231101.en"}
    (work / "config" / "micro_absent.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return work


def test_missing_hub_dataset_stops_snakemake_before_any_job(workdir: Path) -> None:
    result = snakemake(workdir, "--configfile", "config/micro_absent.yaml", "--cores", "1", "-n", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and FETCH in output, output[-3000:]
    assert not (workdir / "results").exists()  # nothing ran


def test_hub_spec_corpus_through_the_data_stage(workdir: Path) -> None:
    args = ("--configfile", "config/micro_hub.yaml", "--cores", "2")
    plan = snakemake(workdir, *args, "-n", "--quiet", "rules")
    assert "finetune" in plan.stdout  # the whole study plans, percentage sizes included
    assert (workdir / "rules").is_dir()
    snakemake(workdir, *args, "results/data/debias/source.arrow", "results/data/leakage_card.json")
    data = workdir / "results" / "data"
    source = read_text_records(data / "debias" / "source.arrow")
    replay = read_text_records(data / "debias" / "replay.arrow")
    meta = json.loads((data / "debias" / "meta.json").read_text())
    general = [r for r in source if r["origin"] == "general"]
    assert general and all(r["id"].startswith("wiki-") for r in general)
    assert meta["corpus"][0]["kind"] == "hf" and meta["n_general"] == len(general)
    assert crows_sentence() not in {r["text"] for r in general}
    assert meta["dropped_as_evaluation_overlap"]["general"]["sentence"] == 1
    assert json.loads((data / "leakage_card.json").read_text())["passed"]
    # replay: every chunk of the first quarter of the rows (gendered or not), in row order
    rows = [int(r["id"].split("-")[-2]) for r in replay]
    assert rows == sorted(rows) and max(rows) < 30 and {r % 3 for r in rows} == {0, 1, 2}
    assert meta["replay"]["corpus"][0]["kind"] == "hf" and meta["replay"]["n"] == len(replay)
    assert os.environ["HF_DATASETS_CACHE"]  # the jobs wrote Arrow to the tests' cache, not ~/.cache

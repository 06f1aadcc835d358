"""The data rules run under Snakemake (micro config) and write what the package functions write;
editing a shipped resource reruns exactly the rules that read it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from fairforget.data.build import build_data
from workflow_helpers import copy_workflow, planned_jobs, snakemake

TARGETS = [
    "results/data/debias/source.arrow",
    "results/data/probes/winobias.jsonl",
    "results/data/probes/crows_pairs.jsonl",
    "results/data/downstream/sst2/meta.json",
    "results/data/leakage_card.json",
]


@pytest.mark.slow
def test_data_rules_match_package_and_rerun_on_resource_edit(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    args = ("--configfile", "config/micro.yaml", "--cores", "1")
    snakemake(work, *args, *TARGETS)
    data = work / "results" / "data"
    for rule in ("prepare_general", "prepare_planted", "prepare_probes", "prepare_debias", "leakage_card"):
        assert (work / "results" / "logs" / rule / f"{rule}.log").is_file()
        assert (work / "results" / "benchmarks" / rule / f"{rule}.tsv").is_file()

    config = yaml.safe_load((work / "config" / "micro.yaml").read_text())["data"]
    expected = build_data(config, tmp_path / "direct", data_dir=work / "resources" / "data", tasks=["sst2"])
    for name in (
        "pretrain",
        "heldout",
        "planted",
        "planted_probes",
        "crows_pairs",
        "winobias",
        "stereoset",
        "source",
        "replay",
        "pairs",
        "word_pairs",
        "leakage_card",
        "leakage_card_md",
    ):
        produced = data / expected[name].relative_to(tmp_path / "direct" / "data")
        assert produced.read_bytes() == expected[name].read_bytes(), name
    assert (data / "downstream" / "sst2" / "train.jsonl").read_bytes() == (
        expected["downstream_sst2"] / "train.jsonl"
    ).read_bytes()

    # an edited resource (Snakemake compares content, a bare touch is not enough) reruns its readers only
    occupations = work / "resources" / "data" / "winobias" / "female_occupations.txt"
    occupations.write_text(occupations.read_text(encoding="utf-8") + "\nflorist\n", encoding="utf-8")
    later = time.time() + 5
    os.utime(occupations, (later, later))
    planned = planned_jobs(work, *args, *TARGETS)
    # (the occupation lists feed the occupation split, which every rule that uses WinoBias or its occupations reads)
    assert planned == {"prepare_planted": 1, "prepare_probes": 1, "prepare_debias": 1, "leakage_card": 1}

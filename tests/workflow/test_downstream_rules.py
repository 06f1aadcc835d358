"""rules/downstream.smk under Snakemake, as a study whose models ask for GPUs runs it (on CPU studies a fine-tuned
checkpoint's downstream tasks run in its evaluation job, tests/workflow/test_dag.py): base and fine-tuned jobs run
(one job per checkpoint x task, each writing the result of every downstream seed), results follow the contract,
and a touched (but identical) checkpoint directory does not trigger a rerun (the directory is ancient)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from downstream_helpers import contains_good_records, make_model_dir, write_task
from fairforget.models.modeldir import load_model_dir, save_model_dir, write_sidecar

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = 'configfile: "config.yaml"\n\ninclude: "rules/common.smk"\ninclude: "rules/downstream.smk"\n'
BASE_OUT = "results/downstream/base/bert-tiny/sst2/seed0.json"
TUNED_OUT = "results/downstream/finetuned/bert-tiny/none/none/full/seed0/sst2/seed0.json"
DSEEDS = [0, 1]


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "snakemake"), "--cores", "1", *args]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def _workflow(tmp_path: Path) -> Path:
    work = tmp_path / "wf"
    (work / "rules").mkdir(parents=True)
    for name in ("common.smk", "downstream.smk", "inputs/downstream.smk"):
        (work / "rules" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "rules" / name, work / "rules" / name)
    shutil.copytree(REPO / "workflow_scripts", work / "workflow_scripts")
    shutil.copytree(REPO / "envs", work / "envs")
    (work / "Snakefile").write_text(SNAKEFILE)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["data"]["downstream"]["tasks"] = ["sst2"]
    config["objectives"] = {"none": {"type": "none"}}
    for model_cfg in config["models"].values():  # the rule downstream_finetuned exists on GPU studies only
        model_cfg["gpus"] = 1
    # the paper-scale protocol (the toy's config probes): fine-tuning, whose results depend on the downstream seed
    config["downstream"] = {
        **config["downstream"],
        "mode": {"masked": "finetune", "causal": "finetune"},
        "seeds": DSEEDS,
        "epochs": 1,
        "batch_size": 16,
        "max_length": 32,
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))

    results = work / "results"
    base_dir, base_sidecar = make_model_dir(results / "models" / "base", "masked")
    base_dir.rename(results / "models" / "base" / "bert-tiny")
    base_sidecar.rename(results / "models" / "base" / "bert-tiny.sha256")
    base = load_model_dir(results / "models" / "base" / "bert-tiny")
    run_dir = results / "models" / "finetuned" / "bert-tiny" / "none" / "none" / "full" / "seed0"
    save_model_dir(base.model, base.tokenizer, run_dir, "masked", parent_hash=base.content_hash)
    write_sidecar(run_dir, run_dir.with_name("seed0.sha256"))
    records = contains_good_records(24, 1, "t")
    write_task(
        results / "data", "sst2", records, contains_good_records(10, 2, "d"), label_names=["negative", "positive"]
    )
    return work


@pytest.mark.slow
def test_downstream_rules_run_and_respect_ancient_model_dirs(tmp_path):
    work = _workflow(tmp_path)
    run = _snakemake(work, BASE_OUT, TUNED_OUT)
    # one job per checkpoint x task (one task here), writing every downstream seed's result
    for rule in ("downstream_base", "downstream_finetuned"):
        assert re.search(rf"^{rule}\s+1$", run.stdout + run.stderr, re.MULTILINE), rule
    for dseed in DSEEDS:
        for out in (BASE_OUT, TUNED_OUT):
            assert json.loads((work / out.replace("seed0.json", f"seed{dseed}.json")).read_text())["dseed"] == dseed
    base = json.loads((work / BASE_OUT).read_text())
    tuned = json.loads((work / TUNED_OUT).read_text())
    base_hash = (work / "results/models/base/bert-tiny.sha256").read_text().strip()
    assert base["kind"] == tuned["kind"] == "downstream"
    assert base["checkpoint_hash"] == base["base_hash"] == tuned["base_hash"] == base_hash
    assert base["run"] is None
    assert tuned["run"] == {"model": "bert-tiny", "objective": "none", "remedy": "none", "size": "full", "seed": 0}
    assert tuned["metrics"]["downstream.sst2.accuracy"]["n"] == 10
    tuned_sidecar = work / "results/models/finetuned/bert-tiny/none/none/full/seed0.sha256"
    assert tuned["checkpoint_hash"] == tuned_sidecar.read_text().strip() != base_hash
    assert (work / "results/logs/downstream_base/bert-tiny/sst2.log").is_file()
    assert (work / "results/benchmarks/downstream_finetuned/bert-tiny/none/none/full/seed0/sst2.tsv").is_file()

    # rewriting a model directory's files (newer mtime, same content) must not rerun anything
    time.sleep(1.1)
    for path in (work / "results/models/base/bert-tiny").iterdir():
        path.touch()
    dry = _snakemake(work, "-n", BASE_OUT, TUNED_OUT)
    assert "Nothing to be done" in dry.stdout + dry.stderr

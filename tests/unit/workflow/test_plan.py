"""`fairforget plan`: job counts equal what Snakemake schedules (a dry run of the micro study; the paper grid by
hand), and the cost of a packed bias-bench run computed by hand."""

from __future__ import annotations

import copy

import pytest
from snakemake.utils import validate

from conftest import load_config
from fairforget.config import run_grid
from fairforget.config.schema import SCHEMA
from fairforget.training.job import FinetuneJob
from fairforget.workflow.plan import assumed_rate, downstream_tokens, finetune_tokens, gpu_hours, plan_study
from workflow_helpers import REPO, copy_workflow, planned_jobs


def _validated(name: str) -> dict:
    config = copy.deepcopy(load_config(name))
    validate(config, str(SCHEMA), set_default=True)
    return config


@pytest.mark.slow  # starts Snakemake (a dry run): not in the fast tier
def test_micro_plan_counts_the_jobs_of_a_snakemake_dry_run(tmp_path) -> None:
    rows, _, _ = plan_study(_validated("micro.yaml"), REPO)
    planned = planned_jobs(copy_workflow(tmp_path / "wf"), "--configfile", "config/micro.yaml")
    assert {row.rule: row.jobs for row in rows} == planned


def test_paper_plan_counts_and_costs_by_hand() -> None:
    config = _validated("paper.yaml")
    rows = {row.rule: row for row in plan_study(config, REPO, assumed_rate())[0]}
    # 2 models x 6 objectives x 5 remedies x 3 sizes x 3 seeds; GPUs: one downstream job per checkpoint x task
    assert rows["finetune"].jobs == rows["evaluate_checkpoint"].jobs == 2 * 6 * 5 * 3 * 3 == len(run_grid(config))
    assert rows["downstream_finetuned"].jobs == 540 * 5 and rows["downstream_base"].jobs == 2 * 5
    # a packed bert-base run: 2,000 steps x 32 x 16 blocks of 512 tokens; an unpacked one: max_length 128
    bert_cda = next(r for r in run_grid(config) if r.model == "bert-base-uncased" and r.objective == "cda")
    assert finetune_tokens(config, bert_cda) == (2000 * 512 * 512, True)
    bert_ul = next(r for r in run_grid(config) if r.model == "bert-base-uncased" and r.objective == "unlikelihood")
    assert finetune_tokens(config, bert_ul) == (2000 * 512 * 128, False)
    llama_cda = next(r for r in run_grid(config) if r.model == "llama-3.2-1b" and r.objective == "cda")
    assert finetune_tokens(config, llama_cda) == (2000 * 256 * 1024, True)
    # 6 N tokens / (312 TFLOP/s x 0.3) = 1.02 GPU-hours per packed bert-base run
    assert gpu_hours(6 * 109514298 * 2000 * 512 * 512, 312, 0.3) == pytest.approx(1.0225, abs=1e-3)
    # the measured H200 rate of a bert-base-sized model (benchmarks/results): tokens / its tokens/s
    _, _, rates = plan_study(config, REPO)
    assert "measured: 145,110 tokens/s" in rates["bert-base-uncased"].source
    seconds = 6 * 109514298 * 2000 * 512 * 512 / rates["bert-base-uncased"].flops_per_second
    assert seconds == pytest.approx(2000 * 512 * 512 / 145110, rel=1e-3)


def test_downstream_tokens_of_fine_tuning_and_of_a_linear_probe_by_hand() -> None:
    """The toy's 600 training examples of each of its 2 tasks at max length 64: fine-tuning reads them each epoch
    and seed (6 N FLOPs a token), a linear probe once (2 N: forward passes only)."""
    config = _validated("config.yaml")
    config["downstream"].update(mode={"masked": "finetune", "causal": "finetune"}, epochs=3, seeds=[0, 1])
    assert downstream_tokens(config, "bert-tiny", REPO) == (2 * 3 * 2 * 600 * 64, 6)
    config["models"]["bert-tiny"]["downstream_mode"] = "linear_probe"
    assert downstream_tokens(config, "bert-tiny", REPO) == (2 * 600 * 64, 2)


def test_the_job_counts_in_docs_slurm_are_the_plans() -> None:
    """docs/slurm.md quotes the paper and micro studies' job counts; `fairforget plan` (checked against Snakemake
    above) must agree, so a change of the DAG (a merged rule, a new stage) cannot leave the guide wrong."""
    import re

    text = (REPO / "docs/slurm.md").read_text()
    quoted = {
        "paper.yaml": re.search(r"plan: ([\d,]+) jobs for config/paper.yaml", text),
        "micro.yaml": re.search(r"the micro study has\s+(\d+) jobs", text),
    }
    for name, match in quoted.items():
        assert match is not None, f"docs/slurm.md no longer quotes the job count of config/{name}"
        rows, _, _ = plan_study(_validated(name), REPO, assumed_rate())
        assert int(match.group(1).replace(",", "")) == sum(row.jobs for row in rows), name


@pytest.mark.slow  # starts Snakemake (a dry run): not in the fast tier
def test_a_runs_probe_size_follows_its_objective_and_remedy_training_settings(tmp_path) -> None:
    """`probe_max_examples` set under `objectives.<name>.training` reaches that objective's runs only, as every
    other `training:` key does (the probe settings once merged only the study's and the model's)."""
    import shlex

    import yaml

    from workflow_helpers import snakemake

    wf = copy_workflow(tmp_path / "wf")
    config = copy.deepcopy(load_config("micro.yaml"))
    objective = next(iter(config["objectives"]))
    config["objectives"][objective].setdefault("training", {})["probe_max_examples"] = 3
    (wf / "config" / "probe.yaml").write_text(yaml.safe_dump(config))
    out = snakemake(wf, "-n", "-p", "--configfile", "config/probe.yaml").stdout
    sizes: dict[str, set[int]] = {}
    for line in out.splitlines():
        if "--job" not in line:
            continue
        words = shlex.split(line)
        job = FinetuneJob.from_json(words[words.index("--job") + 1])
        assert job.probe is not None
        sizes.setdefault(job.run.objective, set()).add(job.probe.max_examples)
    assert sizes[objective] == {3}
    others = {size for name, found in sizes.items() if name != objective for size in found}
    assert others and 3 not in others


def test_a_runs_probe_size_is_its_own_training_settings_in_the_job() -> None:
    """The same regression without Snakemake: the job built for a run takes `probe_max_examples` from the run's
    merged training settings (an objective's override included), and round-trips through JSON."""
    from fairforget.jobs import finetune_job

    config = _validated("micro.yaml")
    objective = next(iter(config["objectives"]))
    config["objectives"][objective]["training"] = {"probe_max_examples": 3}
    jobs = [finetune_job(config, run, "results") for run in run_grid(config)]
    sizes = {(job.run.objective, job.probe.max_examples) for job in jobs if job.probe is not None}
    assert {size for name, size in sizes if name == objective} == {3}
    assert {size for name, size in sizes if name != objective} == {config["training"]["probe_max_examples"]}
    assert all(FinetuneJob.from_json(job.to_json()) == job for job in jobs)

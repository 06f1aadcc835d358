"""slurm_profile/config.yaml as Snakemake itself reads it (YTE rendering + profile parser), for each way a site
configures it through FAIRFORGET_SLURM_* variables.  Needs no SLURM installation: it runs everywhere, so a
broken profile is caught by the ordinary test run, not first on a cluster."""

from __future__ import annotations

import pytest
from snakemake.cli import parse_set_resources
from snakemake.profiles import ProfileConfigFileParser

PROFILE_VARS = (
    "PARTITION",
    "GPU_PARTITION",
    "ACCOUNT",
    "GPU_FLAG",
    "GPU_MODEL",
    "FINETUNE_GPUS",
    "CPUS_PER_GPU",
    "JOBS",
    "STATUS_COMMAND",
)
GPU_RULES = ("finetune", "downstream_base", "downstream_finetuned", "downstream_fused")


@pytest.fixture
def parse_profile(repo_root, monkeypatch):
    def parse(**env):
        for name in PROFILE_VARS:
            monkeypatch.delenv(f"FAIRFORGET_SLURM_{name}", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(f"FAIRFORGET_SLURM_{name}", value)
        with open(repo_root / "slurm_profile" / "config.yaml") as stream:
            return ProfileConfigFileParser().parse(stream)

    return parse


def set_resources(parsed) -> dict[str, dict[str, str]]:
    """{rule: {resource: raw value}} from the profile's CLI-style `rule:resource=value` entries."""
    out: dict[str, dict[str, str]] = {}
    for entry in parsed["set-resources"]:
        rule, assignment = entry.split(":", 1)
        name, value = assignment.split("=", 1)
        out.setdefault(rule, {})[name] = value
    return out


def test_defaults_run_the_paper_study_with_sacct(parse_profile):
    p = parse_profile()
    assert p["executor"] == "slurm"
    assert p["configfile"] == "config/paper.yaml"
    assert int(p["jobs"]) == 100 and int(p["retries"]) >= 1
    assert p["slurm-status-command"] == "sacct"
    # no partition/account unless the site sets them: the cluster default applies
    assert not any(e.startswith(("slurm_partition=", "slurm_account=")) for e in p["default-resources"])
    # GPU counts stay with the study config (rules read models.<name>.gpus): the profile sets none by default
    res = set_resources(p)
    for rule in GPU_RULES:
        assert "gpu" not in res[rule] and "gres" not in res[rule], rule
        assert res[rule]["cpus_per_gpu"] == "8"


def test_no_cpus_per_task_in_default_resources(parse_profile):
    # plugin 2.x: cpus_per_task in default-resources overrides cpus_per_gpu of every GPU job
    for env in ({}, {"PARTITION": "cpu", "ACCOUNT": "a"}):
        assert not any("cpus_per_task" in e for e in parse_profile(**env)["default-resources"])


def test_partitions_account_and_gpu_count(parse_profile):
    p = parse_profile(PARTITION="cpu", GPU_PARTITION="gpu", ACCOUNT="proj1", FINETUNE_GPUS="4", GPU_MODEL="a100")
    assert "slurm_partition=cpu" in p["default-resources"]
    assert "slurm_account=proj1" in p["default-resources"]
    res = set_resources(p)
    assert res["finetune"] == {"slurm_partition": "gpu", "cpus_per_gpu": "8", "gpu": "4", "gpu_model": "a100"}
    assert res["downstream_base"]["slurm_partition"] == "gpu"
    # the GPU partition defaults to the CPU one
    assert set_resources(parse_profile(PARTITION="shared"))["finetune"]["slurm_partition"] == "shared"


def test_gres_mode_never_sends_both_flags(parse_profile):
    res = set_resources(parse_profile(GPU_FLAG="gres", FINETUNE_GPUS="2", GPU_MODEL="v100"))
    assert res["finetune"]["gres"] == "gpu:v100:2"
    assert res["finetune"]["gpu"] == "0"  # silences the rule's own gpu= (from the config)
    assert res["downstream_finetuned"]["gres"] == "gpu:v100:1"
    assert res["downstream_finetuned"]["gpu"] == "0"


def test_values_are_valid_snakemake_resources(parse_profile):
    # what Snakemake does with the entries next: it must accept every one of them
    for env in ({}, {"GPU_FLAG": "gres", "FINETUNE_GPUS": "2"}, {"FINETUNE_GPUS": "1", "PARTITION": "p"}):
        p = parse_profile(**env)
        parsed = parse_set_resources(p["set-resources"])
        assert set(GPU_RULES) <= set(parsed)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"GPU_FLAG": "gpu"}, "FAIRFORGET_SLURM_GPU_FLAG"),
        ({"FINETUNE_GPUS": "-1"}, "FAIRFORGET_SLURM_FINETUNE_GPUS"),
        ({"CPUS_PER_GPU": "0"}, "FAIRFORGET_SLURM_CPUS_PER_GPU"),
    ],
)
def test_bad_settings_fail_with_the_variable_name(parse_profile, env, message):
    with pytest.raises(Exception, match=message):
        parse_profile(**env)


def test_small_jobs_are_bundled(parse_profile, repo_root):
    p = parse_profile()
    groups = dict(e.split("=", 1) for e in p["groups"])
    for rule in (
        "prepare_general",
        "prepare_planted",
        "prepare_debias",
        "prepare_probes",
        "leakage_card",
        "prepare_downstream",
    ):
        assert groups[rule] == "prep"
    assert groups["aggregate_table"] == groups["findings"] == groups["figures"] == "analysis"
    # every grouped or resourced rule name is a real rule (names are a contract, ARCHITECTURE.md)
    rules_text = "".join(f.read_text() for f in (repo_root / "rules").glob("*.smk"))
    for rule in set(groups) | set(set_resources(p)):
        if rule == "report" and f"rule {rule}:" not in rules_text:
            continue  # optional rule (ARCHITECTURE lists it; grouping a missing rule is harmless)
        assert f"rule {rule}:" in rules_text, f"profile names unknown rule {rule}"

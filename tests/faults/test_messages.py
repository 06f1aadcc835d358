"""Errors at the right moment with the right words: a model's `kind` against its config.json before anything is
loaded, no `hf download` hint for a local folder, a rule script's uncaught error in its log, and no retry of an
error a retry would repeat."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fairforget.errors import ConfigError, ModelError, StoreError
from fairforget.models.hub import architecture_kind, resolve_hub_model
from fairforget.workflow.logs import deterministic_marker, is_transient, no_retry_after_deterministic_failure


def _local_model(tmp_path: Path, architecture: str) -> Path:
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": [architecture]}))
    (folder / "model.safetensors").write_bytes(b"not loaded: the kind is refused first")
    return folder


def test_kind_other_than_config_json_names_the_key_before_loading(tmp_path: Path) -> None:
    folder = _local_model(tmp_path, "LlamaForCausalLM")
    assert architecture_kind(folder) == "causal"
    with pytest.raises(ModelError) as caught:
        resolve_hub_model("tiny", "masked", tmp_path / "out", local_path=folder, kind_key="models.tiny.kind")
    message = str(caught.value)
    assert "models.tiny.kind is 'masked'" in message and "declares a causal language model" in message
    assert "hf download" not in message and not (tmp_path / "out").exists()


def test_a_local_folder_that_does_not_load_is_not_told_to_download(tmp_path: Path) -> None:
    folder = _local_model(tmp_path, "BertForMaskedLM")  # the right kind, but the weights are not safetensors
    with pytest.raises(ModelError) as caught:
        resolve_hub_model("tiny", "masked", tmp_path / "out", local_path=folder)
    assert "cannot load from local path" in str(caught.value) and "hf download" not in str(caught.value)


def test_an_uncaught_error_lands_in_the_log_without_an_attempt(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "prepare_probes" / "prepare_probes.log"
    script = (
        "import sys\nfrom fairforget.workflow.logs import log_to\nlog_to(sys.argv[1])\n"
        "raise ValueError('crows_pairs.csv, line 7: 5 columns, expected 8')\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(log)], capture_output=True, text=True)
    assert result.returncode != 0
    text = log.read_text()
    assert "uncaught ValueError: crows_pairs.csv, line 7: 5 columns, expected 8" in text and "Traceback" in text


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), False),
        (OSError(errno.EIO, "Input/output error"), True),
        (ConfigError("config key 'objectives.x.type': unknown"), False),
        (ValueError("a plug-in's bug"), False),
        (MemoryError(), True),
        (RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), True),
    ],
)
def test_which_errors_a_retry_may_fix(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_a_store_error_raised_from_a_full_disk_is_deterministic() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as full:
            raise StoreError("entry ab12: no space left on device; nothing was written") from full
    except StoreError as error:
        assert not is_transient(error)


def test_a_deterministic_failure_is_marked_and_not_retried(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "finetune" / "run.log"
    script = (
        "import sys\nfrom fairforget.workflow.logs import log_to\nlog_to(sys.argv[1], attempt=1)\n"
        "raise ValueError('plug-in objective: bad weight')\n"
    )
    assert subprocess.run([sys.executable, "-c", script, str(log)], capture_output=True).returncode != 0
    assert deterministic_marker(log).read_text() == "ValueError: plug-in objective: bad weight\n"
    assert "a retry would fail the same way (ValueError): the job is not retried" in log.read_text()

    class Job:  # what snakemake.jobs.Job offers the patch: its log files, rule and restart_times property
        rule = type("Rule", (), {"name": "finetune"})()

        def __init__(self, logs: list[Path]) -> None:
            self.log = logs

        @property
        def restart_times(self) -> int:
            return 2

    reports: list[str] = []
    no_retry_after_deterministic_failure(Job, reports.append)
    assert Job([log]).restart_times == 0 and Job([tmp_path / "other.log"]).restart_times == 2
    assert reports == [
        f"fairforget: finetune is not retried: ValueError: plug-in objective: bad weight would fail again (see {log})"
    ]
    # the next attempt (or run) starts without the mark
    subprocess.run([sys.executable, "-c", script.replace("raise", "pass  #"), str(log)], check=True)
    assert not deterministic_marker(log).exists() and Job([log]).restart_times == 2


def test_a_full_disk_while_saving_a_checkpoint_names_the_folder(tmp_path: Path) -> None:
    """transformers' save_pretrained raises a bare "No space left on device"; the error names the model folder
    and keeps its errno (so the job is not retried: a full disk stays full)."""
    from fairforget.models.modeldir import save_model_dir

    class FullDisk:
        def save_pretrained(self, out_dir: Path, **_: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "models" / "finetuned" / "run"
    with pytest.raises(OSError) as caught:
        save_model_dir(FullDisk(), FullDisk(), out, "causal")
    assert caught.value.errno == errno.ENOSPC and not is_transient(caught.value)
    assert str(caught.value) == f"[Errno 28] No space left on device while writing the model folder {out}: '{out}'"


def test_a_library_error_for_a_full_disk_becomes_an_os_error_naming_the_file(tmp_path: Path) -> None:
    from fairforget.io import naming_the_path

    target = tmp_path / "state" / "tensors.safetensors"
    with pytest.raises(OSError) as caught, naming_the_path(target, "the training state"):
        raise RuntimeError('Error while serializing: IoError(Os { code: 28, message: "No space left on device" })')
    assert caught.value.errno == errno.ENOSPC and str(target) in str(caught.value)
    with pytest.raises(ValueError, match="^unrelated$"), naming_the_path(target, "the training state"):
        raise ValueError("unrelated")  # any other error passes unchanged


def test_an_edited_shipped_resource_is_named_before_it_is_prepared(tmp_path: Path) -> None:
    from fairforget.data.resources import verify_shipped_inputs, write_sums
    from fairforget.errors import DataError

    data = tmp_path / "resources" / "data"
    (data / "crows_pairs").mkdir(parents=True)
    crows = data / "crows_pairs" / "crows.csv"
    crows.write_text("id,sent_more\n0,a\n")
    write_sums(data)
    own_corpus = tmp_path / "my_corpus.txt"  # a user's file outside the shipped folder is not checked
    own_corpus.write_text("anything")
    assert verify_shipped_inputs([str(crows), str(own_corpus)], data) == 1
    crows.write_text("id,sent_more\n0,b\n")
    with pytest.raises(DataError, match=f"^{crows}: checksum mismatch"):
        verify_shipped_inputs([str(own_corpus), str(crows)], data)


def test_every_test_the_fault_matrix_names_exists() -> None:
    """docs/faults.md names a test for each fault; a renamed or deleted test must not leave the matrix pointing
    at nothing."""
    import re

    repo = Path(__file__).resolve().parents[2]
    matrix = (repo / "docs" / "faults.md").read_text(encoding="utf-8")
    rows = [line for line in matrix.splitlines() if line.startswith("| ") and not line.startswith("| Fault")]
    assert len(rows) >= 10
    for row in rows:
        named = re.findall(r"`(tests/[\w/]+\.py)(?:::(test_\w+))?`", row)
        assert named, f"docs/faults.md: a row names no test: {row}"
        for file, function in named:
            assert (repo / file).is_file(), f"docs/faults.md names {file}, which does not exist"
            if function:
                assert f"def {function}(" in (repo / file).read_text(encoding="utf-8"), f"{file}::{function}"


def _fairforget_names(tree) -> set[str]:
    import ast

    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fairforget")
        for alias in node.names
    }


def _calls_before_log_to(statements, names: set[str]) -> list[str]:
    """The package functions a script calls before its `log_to(...)`, or ["no log_to"] when it never calls it."""
    import ast

    called: list[str] = []
    for statement in statements:
        calls = [n.func.id for n in ast.walk(statement) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        if "log_to" in calls:
            return called
        called += [name for name in calls if name in names]
    return ["no log_to"]


def test_every_rule_script_logs_before_it_does_any_work() -> None:
    """One logging set-up for every rule script (fairforget.workflow.logs.log_to), before any package call: an
    error raised earlier would not reach the job's log. downstream_* delegate to _downstream.run."""
    import ast

    scripts = Path(__file__).resolve().parents[2] / "workflow_scripts"
    delegated = ast.parse((scripts / "_downstream.py").read_text(encoding="utf-8"))
    (run,) = [node for node in delegated.body if isinstance(node, ast.FunctionDef) and node.name == "run"]
    assert _calls_before_log_to(run.body, _fairforget_names(delegated)) == []
    for script in sorted(scripts.glob("[!_]*.py")):
        text = script.read_text(encoding="utf-8")
        if "_downstream.run(" in text:
            continue
        tree = ast.parse(text)
        assert _calls_before_log_to(tree.body, _fairforget_names(tree)) == [], script.name

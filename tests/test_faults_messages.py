"""Errors at the right moment with the right words: a model's `kind` against its config.json before anything is
loaded, no `hf download` hint for a local folder, and a rule script's uncaught error in its log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fairforget.errors import ModelError
from fairforget.models.hub import architecture_kind, resolve_hub_model


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

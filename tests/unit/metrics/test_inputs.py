"""The evaluation's inputs (fairforget.metrics.inputs): the files a config's metrics read, and probe files with a
repeated id refused."""

from __future__ import annotations

import pytest

from fairforget.errors import DataError
from fairforget.io import write_jsonl


def test_evaluation_inputs_for_the_toy_config(toy_config, repo_root):
    from fairforget.metrics.inputs import evaluation_inputs

    inputs = evaluation_inputs(toy_config["evaluation"], "R", str(repo_root / "resources/data/seat"))
    assert inputs["heldout"] == "R/data/general/heldout.jsonl"
    assert inputs["probes"]["planted"] == "R/data/probes/planted.jsonl"
    assert inputs["probes"]["stereoset"] == "R/data/probes/stereoset.jsonl"
    assert inputs["needs_trajectory"] is True
    seat_files = [p for p in inputs["data"] if "/seat/" in p]
    assert len(seat_files) == 6 and all(__import__("pathlib").Path(p).is_file() for p in seat_files)


def test_duplicate_probe_ids_are_rejected(tmp_path):
    from fairforget.metrics.inputs import load_data

    path = tmp_path / "planted.jsonl"
    write_jsonl(path, [{"id": "x", "stereo": "a b", "anti": "a c"}, {"id": "x", "stereo": "d e", "anti": "d f"}])
    with pytest.raises(DataError, match=r"planted.jsonl: record 2 repeats id 'x'"):
        load_data({"planted": path})

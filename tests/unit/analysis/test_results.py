"""Reading a result JSON (fairforget.analysis.results.load_result): the shape it checks, each refusal naming the
file and the metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairforget.analysis.results import load_result
from fairforget.errors import DataError


def result_file(tmp_path: Path, payload: object) -> Path:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(payload), encoding="utf-8")  # json.dumps writes NaN as the token NaN
    return path


def test_a_well_formed_result_is_returned_as_read(tmp_path: Path) -> None:
    payload = {"metrics": {"planted": {"value": 0.5, "n": 10}, "seat": {"value": None, "reason": "no pairs"}}}
    assert load_result(result_file(tmp_path, payload)) == payload


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([1, 2], "expected a JSON object"),
        ({"metric": {}}, "missing 'metrics' object"),
        ({"metrics": {"planted": 0.5}}, "metric 'planted' must be an object with a 'value' key"),
        ({"metrics": {"planted": {"value": True}}}, r"metric 'planted' value must be a number or null, got True"),
        ({"metrics": {"planted": {"value": "0.5"}}}, r"metric 'planted' value must be a number or null, got '0.5'"),
        ({"metrics": {"planted": {"value": float("nan")}}}, r"metric 'planted' value is not finite \(nan\)"),
        ({"metrics": {"planted": {"value": float("inf")}}}, r"metric 'planted' value is not finite \(inf\)"),
    ],
)
def test_each_bad_shape_is_refused_naming_file_and_metric(tmp_path: Path, payload: object, message: str) -> None:
    with pytest.raises(DataError, match=rf"metrics.json: {message}"):
        load_result(result_file(tmp_path, payload))

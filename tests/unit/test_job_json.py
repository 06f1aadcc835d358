"""The typed jobs' JSON round trip (fairforget.job_json): nested dataclasses rebuilt from their declared types,
a run's seed as an int, errors naming the job and the field."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from fairforget.errors import ConfigError
from fairforget.job_json import JsonJob, decode, nested_dataclass
from fairforget.paths import Run


@dataclass(frozen=True)
class Inner:
    size: int


@dataclass(frozen=True)
class Outer(JsonJob):
    run: Run
    inner: Inner | None
    names: list[str]


def test_nested_fields_are_rebuilt_by_their_declared_types() -> None:
    job = Outer(run=Run("m", "cda", "none", "full", 1), inner=Inner(3), names=["a"])
    assert Outer.from_json(job.to_json()) == job
    assert Outer.from_json(Outer(job.run, None, []).to_json()).inner is None
    assert nested_dataclass(Inner | None) is Inner and nested_dataclass(list[str]) is None


def test_a_runs_seed_is_an_int_and_keys_are_checked() -> None:
    fields = {"model": "m", "objective": "cda", "remedy": "none", "size": "full", "seed": "2"}
    assert decode(Run, fields, "run") == Run("m", "cda", "none", "full", 2)
    text = json.dumps({"run": fields, "inner": {"size": 1, "extra": 0}, "names": []})
    with pytest.raises(ConfigError, match=r"Outer\.inner: missing key\(s\) \[\], unknown key\(s\) \['extra'\]"):
        Outer.from_json(text)
    with pytest.raises(ConfigError, match="Outer: expected a JSON object, got list"):
        Outer.from_json("[]")

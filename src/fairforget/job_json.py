"""The JSON round trip of the typed jobs (one frozen dataclass per stage: `training.job`, `evaluation.job`,
`downstream.job`, `fusion.job`). A rule encodes its job (`to_json`), the script decodes it (`from_json`) and hands
it to the stage untouched. Nested dataclass fields (a `paths.Run`, the probe settings) are rebuilt from their
declared types; a missing or unknown key is a ConfigError naming the job. Imported when the Snakefile is parsed:
no heavy imports here.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from fairforget.errors import ConfigError
from fairforget.paths import Run

JobT = TypeVar("JobT", bound="JsonJob")


class JsonJob:
    """Base of a job dataclass: `to_json` (keys sorted) and `from_json` (checked, nested fields rebuilt)."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: type[JobT], text: str) -> JobT:
        return decode(cls, json.loads(text), cls.__name__)


def nested_dataclass(annotation: Any) -> type[Any] | None:
    """The dataclass a field holds (`X` or `X | None`), else None."""
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = [nested_dataclass(arg) for arg in typing.get_args(annotation)]
        return next((cls for cls in found if cls is not None), None)
    return None


def decode(cls: type[Any], data: Any, where: str) -> Any:
    """`cls` from its decoded JSON `data`; `where` names it in errors (the job, then the field)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [field.name for field in dataclasses.fields(cls)]
    missing = sorted(set(names) - set(data))
    unknown = sorted(set(data) - set(names))
    if missing or unknown:
        raise ConfigError(f"{where}: missing key(s) {missing}, unknown key(s) {unknown}")
    values = {}
    for name in names:
        nested = nested_dataclass(hints[name])
        if nested is not None and data[name] is not None:
            values[name] = decode(nested, data[name], f"{where}.{name}")
        else:
            values[name] = data[name]
    return Run.of(values) if cls is Run else cls(**values)

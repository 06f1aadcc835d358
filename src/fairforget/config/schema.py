"""config/schema.yaml as the reference of every config key: its description and default.

`keys()` walks the schema into one entry per key (dotted path, required or default, description);
`reference_markdown()` renders docs/configuration.md from it (`python -m fairforget.config.schema` prints it;
tests/unit/config/test_schema.py checks the committed file's table is current and that the package's own defaults equal
the schema's).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCHEMA = Path(__file__).resolve().parents[3] / "config" / "schema.yaml"
NO_DEFAULT = object()


@dataclass(frozen=True)
class Key:
    path: str  # dotted, `*` for a mapping of user-chosen names (models.*.kind)
    required: bool
    default: Any  # NO_DEFAULT when the schema gives none
    description: str


def load_schema(path: str | Path = SCHEMA) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A node with its `$ref` and `allOf` references merged in (the node's own keywords win)."""
    merged: dict[str, Any] = {}
    for part in node.get("allOf", []):
        merged.update(_resolve(part, schema))
    if "$ref" in node:
        target: Any = schema
        for name in node["$ref"].lstrip("#/").split("/"):
            target = target[name]
        merged.update(_resolve(target, schema))
    for keyword, value in node.items():
        if keyword == "properties" and "properties" in merged:
            merged["properties"] = {**merged["properties"], **value}
        elif keyword not in ("$ref", "allOf"):
            merged[keyword] = value
    return merged


def keys(schema: dict[str, Any] | None = None) -> list[Key]:
    """Every key of the config, in schema order."""
    schema = schema if schema is not None else load_schema()
    out: list[Key] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        node = _resolve(node, schema)
        required = set(node.get("required", []))
        for name, child in (node.get("properties") or {}).items():
            own = child  # a key's description and default are its own, not those of what it refers to
            path = f"{prefix}{name}"
            out.append(Key(path, name in required, own.get("default", NO_DEFAULT), own.get("description", "")))
            if not child.get("$ref", "").endswith("/training_keys"):  # models.*.training: the keys of training.*
                walk(child, f"{path}.")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and prefix.count(".") == 1:  # models.*, objectives.*, remedies.*
            walk(extra, f"{prefix}*.")

    walk(schema, "")
    return out


def defaults(section: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The schema defaults of the keys directly under `section` (e.g. "training", "models.*.pretrain")."""
    depth = section.count(".") + 1
    return {
        key.path.rsplit(".", 1)[-1]: key.default
        for key in keys(schema)
        if key.path.startswith(f"{section}.") and key.path.count(".") == depth and key.default is not NO_DEFAULT
    }


def _value(value: Any) -> str:
    return "" if value is NO_DEFAULT else f"`{json.dumps(value)}`"


def reference_markdown(schema: dict[str, Any] | None = None) -> str:
    """docs/configuration.md: every key with its default (or "required") and description."""
    schema = schema if schema is not None else load_schema()
    lines = [
        "# Configuration reference",
        "",
        "Generated from `config/schema.yaml` by `python -m fairforget.config.schema > docs/configuration.md`;",
        "tests/unit/config/test_schema.py fails when it is stale. The Snakefile validates every config against the",
        "schema with the defaults set, so a key left out takes the default below. `*` stands for a name you choose",
        "(a model, an objective, a remedy). Notes on how the shipped configs' values were chosen follow the table",
        "(hand-written: the check covers the table only).",
        "",
        "| key | default | description |",
        "|---|---|---|",
    ]
    for key in keys(schema):
        default = "required" if key.required else _value(key.default)
        description = " ".join(key.description.split()).replace("|", "\\|")
        lines.append(f"| `{key.path}` | {default} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference_markdown())

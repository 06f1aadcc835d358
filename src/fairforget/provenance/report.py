"""`fairforget provenance`: a product's lineage for a reader, as the full tree (`format_lineage`) or each file
once grouped by stage (`summarize_lineage`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fairforget.errors import DataError
from fairforget.io import read_json
from fairforget.provenance.lineage import find_sidecar, relative
from fairforget.provenance.record import describe_source


def format_lineage(sidecar: str | Path, max_depth: int = 12) -> str:
    """The lineage tree of a product, each node once (repeats say 'see above')."""
    sidecar = find_sidecar(sidecar)
    record = read_json(sidecar)
    code = record["code_version"]
    lines = [
        f"{sidecar}  rule={record['rule']}  created={record['created']}",
        f"  code {code['commit'] or 'unknown'}{' (dirty)' if code['dirty'] else ''}"
        f"  config_hash={record['config_hash'][:12]}"
        f"  checkpoints={len(record['checkpoint_hashes'])}",
    ]
    for output in record["outputs"]:
        lines.append(f"  output {output['path']}  sha256={output['sha256'][:12]}")
    for entry in record.get("base_models", []):
        lines.append(f"  base model {entry['model']} {entry['content_hash'][:12]}: {describe_source(entry['source'])}")
    shown: set[str] = set()
    base = Path(record["root"])

    def visit(key: str, depth: int) -> None:
        node = record["lineage"][key]
        facts = {k: v for k, v in node["facts"].items() if k in ("content_hash", "parent_hash", "checkpoint_hash")}
        fact_text = " ".join(f"{k}={str(v)[:12]}" for k, v in facts.items() if v)
        digest = (node["sha256"] or "MISSING")[:12]
        prefix = "  " * depth + "- "
        if key in shown:
            lines.append(f"{prefix}{key} (see above)")
            return
        shown.add(key)
        lines.append(f"{prefix}{key} [{node['kind']}] sha256={digest} {fact_text}".rstrip())
        if node["kind"] == "provenance_sidecar" and depth < max_depth:
            nested = format_lineage(base / key if not Path(key).is_absolute() else Path(key), max_depth - depth)
            lines.extend("  " * (depth + 1) + line for line in nested.splitlines())
        if depth < max_depth:
            for parent in node["parents"]:
                visit(parent, depth + 1)

    for entry in record["inputs"]:
        visit(entry["path"], 1)
    return "\n".join(lines)


# (title, lineage node kinds) in the order of the workflow's stages, last stage first.
STAGE_GROUPS: tuple[tuple[str, tuple[str | None, ...]], ...] = (
    ("analysis inputs", ("derived",)),
    ("downstream results", ("downstream_finetuned", "downstream_base")),
    ("evaluations", ("eval_finetuned", "eval_base")),
    ("training records", ("trajectory", "train_summary")),
    ("checkpoints", ("finetuned_manifest",)),
    ("base models", ("base_manifest",)),
    ("prepared data", ("prepared_data", "downstream_meta")),
    ("raw data", ("raw_data",)),
    ("other files", ("file", None)),
)


# Shown as counts only: the sidecars repeat their manifest's hash, model files are listed in their manifest.
SUMMARISED_KINDS = {
    "finetuned_sidecar": "checkpoint sidecars",
    "base_sidecar": "base sidecars",
    "model_file": "model files",
}


_HEX64 = frozenset("0123456789abcdef")


def _records(sidecar: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The record of `sidecar` and of every derived input's sidecar it names, each once, nearest first."""
    found: list[tuple[Path, dict[str, Any]]] = []
    pending, seen = [sidecar.resolve()], set()
    while pending:
        path = pending.pop(0)
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        record = read_json(path)
        found.append((path, record))
        base = Path(record["root"])
        for key, node in sorted(record["lineage"].items()):
            if node["kind"] == "provenance_sidecar":
                pending.append(Path(key) if Path(key).is_absolute() else base / key)
    return found


def _named_by_meta(nodes: dict[str, dict[str, Any]], base: Path) -> tuple[set[str], set[str]]:
    """sha256 values and strings that the prepared data's meta.json files name (the raw files they read)."""
    hashes: set[str] = set()
    strings: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            if len(value) == 64 and set(value) <= _HEX64:
                hashes.add(value)
            else:
                strings.add(value)

    metas = {
        (Path(k) if Path(k).is_absolute() else base / k).parent / "meta.json"
        for k, n in nodes.items()
        if n["kind"] in ("prepared_data", "downstream_meta")
    }
    for meta in sorted(metas):
        if meta.is_file():
            try:
                walk(read_json(meta))
            except DataError:
                continue
    return hashes, strings


def _node_line(key: str, node: dict[str, Any]) -> str:
    facts = node["facts"]
    parts = [key, (node["sha256"] or "MISSING")[:12]]
    for label, fact in (("checkpoint", "checkpoint_hash"), ("hash", "content_hash"), ("parent", "parent_hash")):
        if facts.get(fact):
            parts.append(f"{label}={str(facts[fact])[:12]}")
    code = facts.get("code")
    if isinstance(code, dict) and code.get("fingerprint"):
        pinned = f" pinned={','.join(code.get('pinned') or [])}" if code.get("pinned") else ""
        parts.append(f"code={str(code['fingerprint'])[:12]}{pinned}")
    return "    " + "  ".join(parts)


def summarize_lineage(sidecar: str | Path) -> str:
    """A product's lineage for a reader: each file once, grouped by stage; raw data only where the prepared
    data's meta.json names it (by sha256, file name or stem); model files and sidecars as counts."""
    sidecar = find_sidecar(sidecar)
    records = _records(sidecar)
    record = records[0][1]
    base = Path(record["root"])
    nodes: dict[str, dict[str, Any]] = {}
    for _, other in records:
        for key, node in other["lineage"].items():
            nodes.setdefault(key, node)
    code = record["code_version"]
    version = f"{code['commit'][:12]}{' (dirty)' if code['dirty'] else ''}" if code["commit"] else "unknown"
    analysis_code = (record.get("code") or {}).get("stage/analysis")
    lines = [
        f"{sidecar}  rule={record['rule']}  created={record['created']}",
        f"  code: commit {version}"
        + (f"  analysis={analysis_code[:12]}" if analysis_code else "")
        + f"  config_hash={record['config_hash'][:12]}  checkpoints={len(record['checkpoint_hashes'])}",
    ]
    for plugin in record.get("plugins") or []:
        lines.append(f"  plug-in {plugin['plugin']}  sha256={(plugin['sha256'] or 'MISSING')[:12]}")
    for output in record["outputs"]:
        lines.append(f"  output {output['path']}  sha256={output['sha256'][:12]}")
    for path, other in records[1:]:
        lines.append(f"  record {relative(path, base)}  rule={other['rule']}  created={other['created']}")
    hashes, strings = _named_by_meta(nodes, base)
    names = {Path(s).name for s in strings} | strings
    hidden_raw = 0
    for title, kinds in STAGE_GROUPS:
        keys = sorted(k for k, n in nodes.items() if n["kind"] in kinds)
        if title == "raw data":
            shown = [k for k in keys if nodes[k]["sha256"] in hashes or Path(k).name in names or Path(k).stem in names]
            hidden_raw = len(keys) - len(shown)
            keys = shown
        if keys:
            lines.append(f"  {title} ({len(keys)})")
            lines.extend(_node_line(key, nodes[key]) for key in keys)
    counts = [f"{sum(n['kind'] == kind for n in nodes.values())} {label}" for kind, label in SUMMARISED_KINDS.items()]
    if hidden_raw:
        counts.append(f"{hidden_raw} raw files of resources/SHA256SUMS that no prepared data names")
    lines.append(f"  not listed: {', '.join(counts)} (all are re-hashed by `fairforget audit`; --full lists them)")
    return "\n".join(lines)

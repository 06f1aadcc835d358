"""Provenance of tables and figures: what they were made from, by which code, and an audit that re-checks it.

A product `X.png`/`X.pdf` gets a sidecar `X.provenance.json` (see `sidecar_for`). The sidecar's `lineage` is a
graph keyed by path: each node has the file's sha256 at record time, facts read from it (checkpoint hashes,
parent hashes, run identity) and its parents, following the path contract of `fairforget.paths`:

    result JSON / trajectory -> checkpoint manifest (content_hash, parent_hash) -> base manifest
    manifest -> its weight files (hashes as listed in the manifest) and the prepared data it was trained on
    base manifest of a converted model (source gguf) -> the GGUF file (the hash its manifest recorded)
    prepared data (R/data/...) -> resources/SHA256SUMS -> raw data files (hashes as listed there)
    a product with its own sidecar (tables/runs.parquet) -> that sidecar (its lineage is not copied)

The record's `base_models` names every base model behind the product with its manifest's `source` (for a GGUF
model: the file's sha256, the package and version that shipped it), also through the sidecars of derived inputs,
so a figure drawn from the run table names them too; the PNG/PDF metadata carries a one-line summary.

`audit` re-hashes every node along the lineage (following sidecars of derived inputs) and reports the first
file that is missing or changed.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fairforget.code_identity import module_fingerprint
from fairforget.errors import DataError
from fairforget.hashing import canonical_json_hash, sha256_bytes, sha256_file
from fairforget.io import read_json, write_json
from fairforget.paths import (
    BASE_MANIFEST,
    DEBIAS_PAIRS,
    DEBIAS_REPLAY,
    DEBIAS_SOURCE,
    DEBIAS_WORD_PAIRS,
    FINETUNED_MANIFEST,
    GENERAL_PRETRAIN,
    PLANTED_CORPUS,
    RUN_FIELDS,
    classify,
    manifest_for,
)

FORMAT = 1
PACKAGES = (
    "fairforget",
    "torch",
    "transformers",
    "tokenizers",
    "accelerate",
    "peft",
    "safetensors",
    "polars",
    "numpy",
    "scipy",
    "statsmodels",
    "matplotlib",
    "snakemake",
    "gguf",
)
# Training data a checkpoint depends on when its manifest does not list `data_files` itself.
DEFAULT_FINETUNE_DATA = (DEBIAS_SOURCE, DEBIAS_PAIRS, DEBIAS_WORD_PAIRS, DEBIAS_REPLAY)
# Toy base models are pretrained on general text plus the planted stereotype corpus (rules/base_models.smk).
DEFAULT_PRETRAIN_DATA = (GENERAL_PRETRAIN, PLANTED_CORPUS)
SUMS = Path("resources") / "SHA256SUMS"
# Lineage nodes that hold weights (skipped by `audit(check_weights=False)`).
WEIGHT_KINDS = ("model_file", "source_weights")
# Embed the full checkpoint list in PNG/PDF metadata up to this many; beyond, a count and a digest.
EMBED_MAX_CHECKPOINTS = 50


def sidecar_for(product: str | Path) -> Path:
    """`R/figures/x.png` -> `R/figures/x.provenance.json` (one sidecar for the PNG and the PDF)."""
    product = Path(product)
    if product.name.endswith(".provenance.json"):
        return product
    return product.with_suffix(".provenance.json")


def git_version(repo_root: str | Path) -> dict[str, Any]:
    """Commit and dirty flag of the code; commit None with a reason outside a git checkout."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(repo_root), *args], capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError) as err:
        return {"commit": None, "dirty": None, "reason": f"git not usable: {err}"}
    if head.returncode != 0:
        return {"commit": None, "dirty": None, "reason": head.stderr.strip() or "not a git repository"}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip()), "reason": None}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


@dataclass
class _LineageBuilder:
    root: Path
    code_root: Path
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resolve(self, key: str) -> Path:
        path = Path(key)
        return path if path.is_absolute() else self.root / path

    def add(self, path: Path, kind: str | None = None, claimed_sha256: str | None = None) -> str:
        """Add the node for `path` (and, recursively, its parents); return its key."""
        key = _relative(path if path.is_absolute() else self.root / path, self.root)
        if key in self.nodes:
            existing = self.nodes[key]
            if claimed_sha256 is not None and existing["sha256"] not in (None, claimed_sha256):
                # Two parents used different versions of this file (e.g. data changed between pretraining and
                # fine-tuning): kept, and reported by the audit.
                conflicts = existing["facts"].setdefault("other_claimed_sha256", [])
                if claimed_sha256 not in conflicts:
                    conflicts.append(claimed_sha256)
            return key
        full = self.resolve(key)
        node: dict[str, Any] = {"kind": kind, "sha256": None, "facts": {}, "parents": []}
        self.nodes[key] = node
        if claimed_sha256 is not None:
            # The hash the parent listing (manifest, SHA256SUMS) claims, i.e. the file as it was used; the audit
            # re-hashes it, so data changed since training is caught.
            node["sha256"] = claimed_sha256
            node["facts"]["hash_source"] = "claimed by parent listing"
            if kind == "prepared_data":
                self._link_raw(node)
            return key
        if not full.is_file():
            node["facts"]["missing_at_record_time"] = True
            return key
        node["sha256"] = sha256_file(full)
        self._expand(key, full, node)
        return key

    def _expand(self, key: str, full: Path, node: dict[str, Any]) -> None:
        sidecar = sidecar_for(full)
        if sidecar != full and sidecar.is_file() and classify(full) is None:
            node["kind"] = node["kind"] or "derived"
            sidecar_key = self.add(sidecar, "provenance_sidecar")
            node["parents"].append(sidecar_key)
            upstream = read_json(sidecar)
            # The checkpoints and base models behind a derived input are ours too (its lineage stays in its own
            # sidecar).
            self.nodes[sidecar_key]["facts"]["checkpoint_hashes"] = upstream.get("checkpoint_hashes", [])
            self.nodes[sidecar_key]["facts"]["base_models"] = upstream.get("base_models", [])
            return
        info = classify(full)
        if full.name == "SHA256SUMS":
            node["kind"] = "raw_data_checksums"
            for name, digest in _read_sums(full):
                node["parents"].append(self.add(full.parent / name, "raw_data", claimed_sha256=digest))
            return
        if info is None:
            parts = Path(key).parts
            # R/data/... holds prepared data (resources/data/... is raw and reached via SHA256SUMS).
            if "data" in parts[:-1] and parts[0] != "resources":
                node["kind"] = node["kind"] or "prepared_data"
                self._link_raw(node)
            else:
                node["kind"] = node["kind"] or "file"
            return
        node["kind"] = info.kind
        if info.kind.endswith("_manifest"):
            self._expand_manifest(full, info, node)
        elif info.kind == "downstream_meta":
            self._link_raw(node)
        else:
            if full.suffix == ".json" and info.kind.startswith(("eval", "downstream")):
                record = read_json(full)
                node["facts"].update({k: record.get(k) for k in ("checkpoint_hash", "base_hash", "kind", "run")})
                _add_code_facts(node, record)
            node["parents"].append(self.add(manifest_for(info)))

    def _expand_manifest(self, full: Path, info: Any, node: dict[str, Any]) -> None:
        manifest = read_json(full)
        node["facts"].update({k: manifest.get(k) for k in ("content_hash", "parent_hash", "run", "kind")})
        _add_code_facts(node, manifest)
        root = info.root
        if info.kind == "finetuned_manifest":
            run = manifest.get("run") or {}
            node["facts"]["objective"] = run.get("objective", info.fields.get("objective"))
            node["facts"]["remedy"] = run.get("remedy", info.fields.get("remedy"))
            fusion = manifest.get("fusion")
            if isinstance(fusion, dict):
                # a fused checkpoint lies in R/fusion/alpha<weight>/ (fairforget.fusion.settings): its parents are
                # R's run checkpoint and base model
                root = info.root.parent.parent
                node["facts"]["fusion"] = fusion
                fields = {key: info.fields[key] for key in RUN_FIELDS}
                node["parents"].append(self.add(root / FINETUNED_MANIFEST.format(**fields)))
            node["parents"].append(self.add(root / BASE_MANIFEST.format(model=info.fields["model"])))
        for name, digest in sorted((manifest.get("files") or {}).items()):
            node["parents"].append(self.add(full.parent / name, "model_file", claimed_sha256=digest))
        source = manifest.get("source")
        if source is not None:
            node["facts"]["source"] = source
            weights = source_weights(source)
            if weights is not None:  # the file the weights were converted from (a GGUF file), hash as recorded
                node["parents"].append(self.add(weights[0], "source_weights", claimed_sha256=weights[1]))
        listed = manifest.get("data_files")
        if isinstance(listed, dict):
            # {path: sha256 at training time}, paths relative to the working directory.
            for path, digest in sorted(listed.items()):
                node["parents"].append(self.add(Path(path), "prepared_data", claimed_sha256=digest))
            return
        source_type = (manifest.get("source") or {}).get("type")
        if info.kind == "base_manifest" and source_type not in (None, "toy"):
            node["facts"]["data_files_source"] = f"none: base weights from {source_type}"
            return
        defaults = DEFAULT_FINETUNE_DATA if info.kind == "finetuned_manifest" else DEFAULT_PRETRAIN_DATA
        node["facts"]["data_files_source"] = "default set (manifest lists no data_files)"
        for path in (root / p for p in defaults):
            if path.is_file():
                node["parents"].append(self.add(path, "prepared_data"))

    def _link_raw(self, node: dict[str, Any]) -> None:
        sums = self.code_root / SUMS
        if sums.is_file():
            node["parents"].append(self.add(sums))


def source_weights(source: dict[str, Any]) -> tuple[Path, str] | None:
    """(path, sha256) of the file a base model's weights were converted from (`source: gguf`), else None."""
    if source.get("type") == "gguf" and source.get("gguf_path") and source.get("gguf_sha256"):
        return Path(source["gguf_path"]), str(source["gguf_sha256"])
    return None


def base_models(nodes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every base model a product depends on, with its manifest's `source` (for a GGUF model: the file's sha256,
    the package and its version), from base manifests in the lineage and from the sidecars of derived inputs."""
    found: dict[str, dict[str, Any]] = {}
    for key, node in nodes.items():
        if node["kind"] == "base_manifest" and node["facts"].get("content_hash"):
            model = Path(key).parent.name
            found[node["facts"]["content_hash"]] = {
                "model": model,
                "content_hash": node["facts"]["content_hash"],
                "source": node["facts"].get("source"),
            }
        for entry in node["facts"].get("base_models", []):
            found.setdefault(entry["content_hash"], entry)
    return [found[h] for h in sorted(found)]


def describe_source(source: dict[str, Any] | None) -> str:
    """One line about where a base model's weights came from (the manifest's `source`)."""
    if not source:
        return "source not recorded"
    kind = source.get("type", "?")
    if kind == "gguf":
        package = f"{source['package']}=={source['package_version']} " if source.get("package") else ""
        return f"gguf {package}{source.get('gguf_file')} sha256={source.get('gguf_sha256')}"
    if kind == "hub":
        where = source.get("hub_id") or source.get("local_path")
        return f"hub {where}" + (f"@{source['commit']}" if source.get("commit") else "")
    return str(kind)


def _add_code_facts(node: dict[str, Any], record: dict[str, Any]) -> None:
    """The code identity a manifest or result recorded (fairforget.code_identity), when it has one."""
    code = record.get("code")
    if isinstance(code, dict):
        node["facts"]["code"] = {key: code.get(key) for key in ("fingerprint", "components", "pinned")}


def plugin_files(config: dict[str, Any], code_root: Path) -> list[dict[str, Any]]:
    """The config's plug-in files with their content hashes (git's dirty flag does not see untracked files)."""
    out = []
    for spec in config.get("plugins") or []:
        if not str(spec).endswith(".py"):
            out.append({"plugin": spec, "path": None, "sha256": None})
            continue
        path = Path(spec) if Path(spec).is_absolute() else code_root / spec
        out.append({"plugin": spec, "path": path.as_posix(), "sha256": sha256_file(path) if path.is_file() else None})
    return out


def _read_sums(path: Path) -> list[tuple[str, str]]:
    entries = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{path}:{line_number}: expected '<sha256>  <relative path>'")
        entries.append((parts[1].lstrip("*").strip(), parts[0].lower()))
    return entries


def build_record(
    rule: str,
    inputs: Iterable[str | Path],
    config: dict[str, Any],
    repo_root: str | Path = ".",
    code_root: str | Path | None = None,
) -> dict[str, Any]:
    """Everything a product depends on, before the product is written (outputs are added by `finish`).

    `repo_root`: the directory input paths are relative to (Snakemake's working directory); `code_root`: the
    checkout holding the code and resources/SHA256SUMS (the Snakefile's folder; default `repo_root`).
    """
    root = Path(repo_root).resolve()
    code = Path(code_root).resolve() if code_root is not None else root
    builder = _LineageBuilder(root, code)
    input_keys = [builder.add(Path(p)) for p in inputs]
    checkpoints = sorted(
        {
            h
            for node in builder.nodes.values()
            for h in (
                node["facts"].get("checkpoint_hash"),
                node["facts"].get("content_hash"),
                *node["facts"].get("checkpoint_hashes", []),
            )
            if h
        }
    )
    return {
        "format": FORMAT,
        "rule": rule,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "root": root.as_posix(),
        "code_root": code.as_posix(),
        "code_version": git_version(code),
        # the analysis code's own fingerprint; the lineage's manifests and results carry their jobs' identities
        "code": {"stage/analysis": module_fingerprint("fairforget.pipeline")["sha256"]},
        "plugins": plugin_files(config, code),
        "packages": package_versions(),
        "config": config,
        "config_hash": canonical_json_hash(config),
        "inputs": [{"path": k, "sha256": builder.nodes[k]["sha256"]} for k in input_keys],
        "checkpoint_hashes": checkpoints,
        "base_models": base_models(builder.nodes),
        "outputs": [],
        "lineage": builder.nodes,
    }


def embedded_facts(record: dict[str, Any], sidecar_name: str) -> dict[str, str]:
    """Key facts as short strings, for PNG text chunks and the PDF info dictionary."""
    code = record["code_version"]
    if code["commit"]:
        version = f"{code['commit']}{'+dirty' if code['dirty'] else ''}"
    else:
        version = f"unknown ({code['reason']})"
    checkpoints = record["checkpoint_hashes"]
    if len(checkpoints) <= EMBED_MAX_CHECKPOINTS:
        checkpoint_text = " ".join(checkpoints)
    else:
        digest = sha256_bytes(" ".join(checkpoints).encode())
        checkpoint_text = f"{len(checkpoints)} hashes, sha256 of sorted list {digest}"
    return {
        "fairforget.rule": record["rule"],
        "fairforget.config_hash": record["config_hash"],
        "fairforget.code_version": version,
        "fairforget.checkpoint_hashes": checkpoint_text,
        "fairforget.base_models": "; ".join(
            f"{entry['model']} {entry['content_hash'][:12]}: {describe_source(entry['source'])}"
            for entry in record.get("base_models", [])
        ),
        "fairforget.inputs": canonical_json_hash(record["inputs"]),
        "fairforget.created": record["created"],
        "fairforget.provenance": sidecar_name,
    }


def matplotlib_metadata(record: dict[str, Any], sidecar_name: str, fmt: str, title: str) -> dict[str, Any]:
    facts = embedded_facts(record, sidecar_name)
    if fmt == "png":
        return {"Title": title, "Software": "fairforget", **facts}
    if fmt == "pdf":
        # The PDF info dict has fixed keys; the facts go into Keywords as JSON. No CreationDate: reruns match.
        return {
            "Title": title,
            "Creator": "fairforget",
            "Subject": f"provenance: {sidecar_name}",
            "Keywords": json.dumps(facts, sort_keys=True),
            "CreationDate": None,
        }
    return {}


def finish(record: dict[str, Any], outputs: Iterable[str | Path], sidecar: str | Path) -> dict[str, Any]:
    """Hash the written products into the record and write the sidecar."""
    root = Path(record["root"])
    record = dict(record)
    record["outputs"] = [{"path": _relative(Path(p).resolve(), root), "sha256": sha256_file(p)} for p in outputs]
    write_json(sidecar, record)
    return record


# ----------------------------------------------------------------------------------------------------- audit


@dataclass
class AuditReport:
    checked: int = 0
    sidecars: int = 0
    skipped_weights: int = 0
    # one entry per problem (a file and what is wrong with it), with every record that reaches it
    found: dict[str, list[str]] = field(default_factory=dict)
    current_record: str = ""

    def add(self, problem: str) -> None:
        records = self.found.setdefault(problem, [])
        if self.current_record not in records:
            records.append(self.current_record)

    @property
    def problems(self) -> list[str]:
        """Each problem once, naming the provenance records that reach the file."""
        return [f"{problem} (in {', '.join(records)})" for problem, records in self.found.items()]

    @property
    def ok(self) -> bool:
        return not self.found


def find_sidecar(path: str | Path) -> Path:
    path = Path(path)
    for candidate in (sidecar_for(path), path.with_name(path.name + ".provenance.json")):
        if candidate.is_file():
            return candidate
    raise DataError(f"{path}: no provenance sidecar ({sidecar_for(path)} not found)")


def _check_file(
    path: Path,
    expected: str | None,
    label: str,
    report: AuditReport,
    checked: dict[tuple[Path, str | None], str | None] | None = None,
) -> bool:
    """Re-hash `path` against `expected` (once per path and hash across records: `checked` remembers)."""
    if checked is not None and (path, expected) in checked:
        problem = checked[(path, expected)]
        if problem is not None:
            report.add(problem)
        return problem is None
    report.checked += 1
    problem = None
    if expected is None:
        problem = f"{path}: {label} had no hash at record time (missing then)"
    elif not path.is_file():
        problem = f"{path}: {label} is missing"
    else:
        actual = sha256_file(path)
        if actual != expected:
            problem = f"{path}: {label} changed (sha256 {actual[:12]}..., recorded {expected[:12]}...)"
    if checked is not None:
        checked[(path, expected)] = problem
    if problem is not None:
        report.add(problem)
    return problem is None


def audit(paths: Iterable[str | Path], root: str | Path | None = None, check_weights: bool = True) -> AuditReport:
    """Re-hash outputs and every lineage node of the given products or sidecars (following derived inputs)."""
    report = AuditReport()
    pending = [find_sidecar(p) for p in paths]
    seen: set[Path] = set()
    checked: dict[tuple[Path, str | None], str | None] = {}
    while pending:
        sidecar = pending.pop().resolve()
        if sidecar in seen:
            continue
        seen.add(sidecar)
        report.sidecars += 1
        report.current_record = str(sidecar)
        record = read_json(sidecar)
        for key in ("lineage", "outputs", "root"):
            if key not in record:
                raise DataError(f"{sidecar}: not a fairforget provenance record (no '{key}')")
        base = Path(root) if root is not None else Path(record["root"])
        for output in record["outputs"]:
            _check_file(base / output["path"], output["sha256"], "output", report, checked)
        for key, node in tqdm(sorted(record["lineage"].items()), desc=f"audit {sidecar.name}", disable=None):
            full = Path(key) if Path(key).is_absolute() else base / key
            if node["kind"] in WEIGHT_KINDS and not check_weights:
                report.skipped_weights += 1
                continue
            for other in node["facts"].get("other_claimed_sha256", []):
                report.add(
                    f"{full}: recorded with different hashes by different parents ({node['sha256'][:12]}... and "
                    f"{other[:12]}...): it changed between two uses"
                )
            unchanged = _check_file(full, node["sha256"], node["kind"] or "input", report, checked)
            if unchanged and node["kind"] == "provenance_sidecar":
                pending.append(full)
    return report


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


# -------------------------------------------------------------------------------------- readable summary

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
        lines.append(f"  record {_relative(path, base)}  rule={other['rule']}  created={other['created']}")
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

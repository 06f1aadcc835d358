"""A product's provenance record (its `X.provenance.json` sidecar): the rule, the code (git commit, the analysis
code's fingerprint, plug-in files), package versions, the config, the inputs with their lineage (`lineage`),
the checkpoints and base models behind them (also through the sidecars of derived inputs, so a figure drawn
from the run table names them too), and the outputs' hashes; the key facts embedded in PNG/PDF metadata."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fairforget.code_identity import module_fingerprint
from fairforget.hashing import canonical_json_hash, sha256_bytes, sha256_file
from fairforget.io import write_json
from fairforget.provenance.lineage import LineageBuilder, relative

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


# Embed the full checkpoint list in PNG/PDF metadata up to this many; beyond, a count and a digest.
EMBED_MAX_CHECKPOINTS = 50


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
    builder = LineageBuilder(root, code)
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
    record["outputs"] = [{"path": relative(Path(p).resolve(), root), "sha256": sha256_file(p)} for p in outputs]
    write_json(sidecar, record)
    return record

"""The lineage graph of a product: keyed by path, each node has the file's sha256 at record time, facts read from
it (checkpoint hashes, parent hashes, run identity) and its parents, following the path contract of
`fairforget.paths`:

    result JSON / trajectory -> checkpoint manifest (content_hash, parent_hash) -> base manifest
    manifest -> its weight files (hashes as listed in the manifest) and the prepared data it was trained on
    base manifest of a converted model (source gguf) -> the GGUF file (the hash its manifest recorded)
    prepared data (R/data/...) -> resources/SHA256SUMS -> raw data files (hashes as listed there)
    a product with its own sidecar (tables/runs.parquet) -> that sidecar (its lineage is not copied)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairforget.errors import DataError
from fairforget.hashing import sha256_file
from fairforget.io import read_json
from fairforget.models.modeldir import Manifest
from fairforget.paths import (
    BASE_MANIFEST,
    FINETUNE_DATA,
    FINETUNED_MANIFEST,
    PRETRAIN_DATA,
    Run,
    classify,
    manifest_for,
)

# Training data a checkpoint depends on when its manifest does not list `data_files` itself.
DEFAULT_FINETUNE_DATA = tuple(FINETUNE_DATA.values())


SUMS = Path("resources") / "SHA256SUMS"


# Lineage nodes that hold weights (skipped by `audit(check_weights=False)`).
WEIGHT_KINDS = ("model_file", "source_weights")


def sidecar_for(product: str | Path) -> Path:
    """`R/figures/x.png` -> `R/figures/x.provenance.json` (one sidecar for the PNG and the PDF)."""
    product = Path(product)
    if product.name.endswith(".provenance.json"):
        return product
    return product.with_suffix(".provenance.json")


def find_sidecar(path: str | Path) -> Path:
    path = Path(path)
    for candidate in (sidecar_for(path), path.with_name(path.name + ".provenance.json")):
        if candidate.is_file():
            return candidate
    raise DataError(f"{path}: no provenance sidecar ({sidecar_for(path)} not found)")


def relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


@dataclass
class LineageBuilder:
    root: Path
    code_root: Path
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resolve(self, key: str) -> Path:
        path = Path(key)
        return path if path.is_absolute() else self.root / path

    def add(self, path: Path, kind: str | None = None, claimed_sha256: str | None = None) -> str:
        """Add the node for `path` (and, recursively, its parents); return its key."""
        key = relative(path if path.is_absolute() else self.root / path, self.root)
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
            for name, digest in read_sums(full):
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
                add_code_facts(node, record.get("code"))
            node["parents"].append(self.add(manifest_for(info)))

    def _expand_manifest(self, full: Path, info: Any, node: dict[str, Any]) -> None:
        manifest = Manifest.read(full)
        node["facts"].update(
            {
                "content_hash": manifest.content_hash,
                "parent_hash": manifest.parent_hash,
                "run": manifest.run,
                "kind": manifest.kind,
            }
        )
        add_code_facts(node, manifest.code)
        root = info.root
        if info.kind == "finetuned_manifest":
            run = manifest.run or {}
            node["facts"]["objective"] = run.get("objective", info.fields.get("objective"))
            node["facts"]["remedy"] = run.get("remedy", info.fields.get("remedy"))
            fusion = manifest.fusion
            if fusion is not None:
                # a fused checkpoint lies in R/fusion/alpha<weight>/ (fairforget.fusion.settings): its parents are
                # R's run checkpoint and base model
                root = info.root.parent.parent
                node["facts"]["fusion"] = fusion
                node["parents"].append(self.add(root / FINETUNED_MANIFEST.format(**Run.of(info.fields).wildcards())))
            node["parents"].append(self.add(root / BASE_MANIFEST.format(model=info.fields["model"])))
        for name, digest in sorted(manifest.files.items()):
            node["parents"].append(self.add(full.parent / name, "model_file", claimed_sha256=digest))
        source = manifest.source
        if source is not None:
            node["facts"]["source"] = source
            weights = source_weights(source)
            if weights is not None:  # the file the weights were converted from (a GGUF file), hash as recorded
                node["parents"].append(self.add(weights[0], "source_weights", claimed_sha256=weights[1]))
        listed = manifest.data_files
        if listed is not None:
            # {path: sha256 at training time}, paths relative to the working directory.
            for path, digest in sorted(listed.items()):
                node["parents"].append(self.add(Path(path), "prepared_data", claimed_sha256=digest))
            return
        source_type = (manifest.source or {}).get("type")
        if info.kind == "base_manifest" and source_type not in (None, "toy"):
            node["facts"]["data_files_source"] = f"none: base weights from {source_type}"
            return
        defaults = DEFAULT_FINETUNE_DATA if info.kind == "finetuned_manifest" else PRETRAIN_DATA
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


def add_code_facts(node: dict[str, Any], code: Any) -> None:
    """The code identity a manifest or result recorded (fairforget.code_identity), when it has one."""
    if isinstance(code, dict):
        node["facts"]["code"] = {key: code.get(key) for key in ("fingerprint", "components", "pinned")}


def read_sums(path: Path) -> list[tuple[str, str]]:
    entries = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{path}:{line_number}: expected '<sha256>  <relative path>'")
        entries.append((parts[1].lstrip("*").strip(), parts[0].lower()))
    return entries

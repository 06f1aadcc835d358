"""Compare two results directories of the same study, byte for byte where bytes are meant to be reproducible.

    .venv/bin/python tools/compare_results.py BEFORE_RESULTS AFTER_RESULTS [--report FILE]

Exit 0 when every product is identical; otherwise each difference is listed. What is compared:

- tables (runs.parquet by content, runs.csv, data_dictionary.md), findings.md, every prepared data file,
  trajectories, metrics.json / downstream result JSON, train summaries, model manifests and .sha256
  sidecars (checkpoint content hashes), and every other file not named below: byte for byte;
- figures: PNG pixels (decoded; the text chunks carry provenance facts with a timestamp) and PDF page
  content with the info dictionary left out (its Keywords hold the same facts);
- provenance sidecars (*.provenance.json): everything except what is meant to differ between two runs of
  different code at different times: `created`, `host`, `platform`, `root`, `code_root`, `code_version`,
  `slurm_job_id`, `packages` (the fairforget version string), and the sha256 of files that hold those facts
  (the figure files, the sidecars themselves). The recorded `config` and `config_hash` are compared after the
  after-side's added defaults are checked: keys the before-side lacks must equal the schema default
  (reported as "defaults added"), any changed value is a difference; the same holds for the `training`
  section a fine-tuned checkpoint's manifest records (the sha256 of manifests in sidecars is therefore not
  compared there: each manifest is compared on its own);
- ignored: logs, Snakemake benchmark files, the result store (its entries hold creation times; the result
  JSONs name their store keys, which are compared), timing fields of train_summary.json and of model manifests
  (`wall_seconds`, `probe_seconds`, `tokens_per_second`, `created_by`).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import zlib
from pathlib import Path
from typing import Any

IGNORED_DIRS = ("logs", "benchmarks", "store")
# Fields that measure time or name the machine, the code version or the run's absolute paths.
VOLATILE = {
    "created",
    "host",
    "platform",
    "root",
    "code_root",
    "code_version",
    "slurm_job_id",
    "packages",
    "wall_seconds",
    "probe_seconds",
    "tokens_per_second",
    "created_by",
    "python",
}


def _png_pixels(path: Path) -> bytes:
    """The decompressed image data of a PNG (IHDR + IDAT), text chunks left out."""
    data = path.read_bytes()
    position, header, idat = 8, b"", b""
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    return header + zlib.decompress(idat)


def _pdf_without_info(path: Path) -> bytes:
    """The PDF bytes with the info dictionary's values and the xref/trailer (which count their bytes) removed."""
    data = path.read_bytes()
    data = re.sub(rb"/(Keywords|CreationDate|ModDate|Producer|Subject|Title|Creator) \((?:\\.|[^\\)])*\)", b"", data)
    data = re.sub(rb"/(Keywords|CreationDate|ModDate) <[0-9A-Fa-f]*>", b"", data)
    return data.split(b"xref")[0]


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _schema_defaults() -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from fairforget.config.schema import NO_DEFAULT, keys

    return {k.path: k.default for k in keys() if k.default is not NO_DEFAULT}


def _config_difference(
    before: Any, after: Any, where: str, defaults: dict[str, Any], added: list[str], problems: list[str]
) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            path = f"{where}.{key}" if where else key
            if key not in after:
                problems.append(f"config key {path} dropped")
            elif key not in before:
                schema_path = re.sub(r"^(models|objectives|remedies)\.[^.]+", r"\1.*", path)
                if schema_path in defaults and defaults[schema_path] == after[key]:
                    added.append(path)
                elif isinstance(after[key], dict) and schema_path in defaults:
                    # an added section (its default is {}): its own keys must be defaults too
                    _config_difference({}, after[key], path, defaults, added, problems)
                else:
                    problems.append(f"config key {path} added with a non-default value {after[key]!r}")
            else:
                _config_difference(before[key], after[key], path, defaults, added, problems)
    elif before != after:
        problems.append(f"config key {where}: {before!r} -> {after!r}")


# Files whose sha256 in a sidecar is not compared: products whose bytes embed provenance facts (timestamps), and
# model manifests (they record the config's training section: compared on their own, defaults allowed) and train
# summaries (they record wall times: compared on their own without them).
def _volatile_product(path: str) -> bool:
    return path.endswith((".png", ".pdf", ".provenance.json", "manifest.json", "train_summary.json"))


def _compare_manifest(
    before: dict[str, Any], after: dict[str, Any], defaults: dict[str, Any], added: list[str]
) -> list[str]:
    """A model manifest: the recorded `training` section may gain schema defaults; the rest must be equal."""
    problems: list[str] = []
    b, a = dict(before), dict(after)
    _config_difference(b.pop("training", None), a.pop("training", None), "training", defaults, added, problems)
    if _strip(b) != _strip(a):
        problems.append("differs")
    return problems


def _compare_sidecar(
    before: dict[str, Any], after: dict[str, Any], defaults: dict[str, Any], added: list[str]
) -> list[str]:
    problems: list[str] = []
    _config_difference(before.get("config"), after.get("config"), "", defaults, added, problems)
    b, a = dict(before), dict(after)
    for record in (b, a):
        record.pop("config", None)
        record.pop("config_hash", None)
        record["outputs"] = [o for o in record.get("outputs", []) if not _volatile_product(o["path"])]
        record["inputs"] = [
            i if not _volatile_product(i["path"]) else {"path": i["path"]} for i in record.get("inputs", [])
        ]
        record["lineage"] = {
            k: ({**v, "sha256": None} if _volatile_product(k) else v) for k, v in record.get("lineage", {}).items()
        }
    if _strip(b) != _strip(a):
        for key in sorted((set(b) | set(a)) - VOLATILE):
            if _strip(b.get(key)) != _strip(a.get(key)):
                problems.append(f"field '{key}' differs")
    return problems


def compare(before: Path, after: Path) -> tuple[list[str], list[str], dict[str, int]]:
    """(differences, config keys added as defaults, counts of compared files by kind)."""

    def files(root: Path) -> set[str]:
        return {
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] not in IGNORED_DIRS
        }

    differences: list[str] = []
    added: list[str] = []
    counts: dict[str, int] = {}
    defaults = _schema_defaults()
    left, right = files(before), files(after)
    for name in sorted(left ^ right):
        differences.append(f"{name}: only in {'before' if name in left else 'after'}")
    for name in sorted(left & right):
        b, a = before / name, after / name
        if name.endswith(".provenance.json"):
            kind = "provenance"
            problems = _compare_sidecar(json.loads(b.read_text()), json.loads(a.read_text()), defaults, added)
        elif name.endswith(".png"):
            kind = "figure png (pixels)"
            problems = [] if _png_pixels(b) == _png_pixels(a) else ["pixels differ"]
        elif name.endswith(".pdf"):
            kind = "figure pdf (content)"
            problems = [] if _pdf_without_info(b) == _pdf_without_info(a) else ["content differs"]
        elif name.endswith(".parquet"):
            import polars as pl

            kind = "parquet (content)"
            problems = [] if pl.read_parquet(b).equals(pl.read_parquet(a)) else ["table content differs"]
            if not problems and b.read_bytes() != a.read_bytes():
                problems = []  # same content; parquet metadata (writer version) may differ
        elif name.endswith("manifest.json"):
            kind = "model manifest (created_by left out)"
            problems = _compare_manifest(json.loads(b.read_text()), json.loads(a.read_text()), defaults, added)
        elif name.endswith("train_summary.json"):
            kind = "train summary (timing fields left out)"
            problems = [] if _strip(json.loads(b.read_text())) == _strip(json.loads(a.read_text())) else ["differs"]
        else:
            kind = "bytes"
            problems = [] if b.read_bytes() == a.read_bytes() else ["bytes differ"]
        counts[kind] = counts.get(kind, 0) + 1
        differences.extend(f"{name}: {p}" for p in problems)
    return differences, sorted(set(added)), counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--report", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    differences, added, counts = compare(args.before, args.after)
    out = io.StringIO()
    out.write(f"compared {sum(counts.values())} files of {args.before} and {args.after}:\n")
    for kind, n in sorted(counts.items()):
        out.write(f"  {n:5d}  {kind}\n")
    if added:
        out.write(
            f"config keys the after-side's provenance records with their schema defaults ({len(added)}): "
            f"{', '.join(added)}\n"
        )
    out.write("\n".join(differences) + "\n" if differences else "IDENTICAL: no difference\n")
    text = out.getvalue()
    sys.stdout.write(text)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())

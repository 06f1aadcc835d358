"""`fairforget audit`: re-hash the outputs and every lineage node of products (following the sidecars of derived
inputs) and report each file that is missing or changed, with every record that reaches it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from fairforget.errors import DataError
from fairforget.hashing import sha256_file
from fairforget.io import read_json
from fairforget.provenance.lineage import WEIGHT_KINDS, find_sidecar


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

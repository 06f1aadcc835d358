"""`fairforget provenance PRODUCT` and `fairforget audit [PATH...]` subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from fairforget.provenance.audit import audit
from fairforget.provenance.report import format_lineage, summarize_lineage


def _provenance(args: argparse.Namespace) -> int:
    for path in args.products:
        print(format_lineage(path, max_depth=args.max_depth) if args.full else summarize_lineage(path))
    return 0


def _audit(args: argparse.Namespace) -> int:
    paths = list(args.paths)
    if not paths:
        paths = sorted(Path(args.results_dir).rglob("*.provenance.json"))
        if not paths:
            print(f"audit: no *.provenance.json under {args.results_dir}")
            return 1
    report = audit(paths, root=args.root, check_weights=not args.no_weights)
    for problem in report.problems:
        print(f"CHANGED OR MISSING: {problem}")
    skipped = f", {report.skipped_weights} weight files skipped" if report.skipped_weights else ""
    status = "OK" if report.ok else f"FAILED ({len(report.problems)} problem(s))"
    print(f"audit {status}: {report.checked} files re-hashed across {report.sidecars} provenance records{skipped}")
    return 0 if report.ok else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    prov = subparsers.add_parser(
        "provenance",
        help="what a figure or table was made from: its lineage grouped by stage (--full: the whole tree)",
    )
    prov.add_argument("products", nargs="+", help="a figure/table file or its .provenance.json sidecar")
    prov.add_argument(
        "--full",
        action="store_true",
        help="the whole lineage tree: every model file and every raw file of resources/SHA256SUMS",
    )
    prov.add_argument("--max-depth", type=int, default=12, help="with --full: deepest level of the tree to print")
    prov.set_defaults(func=_provenance)

    check = subparsers.add_parser(
        "audit", help="re-hash every recorded input along the lineage; exit 1 naming any changed or missing file"
    )
    check.add_argument("paths", nargs="*", help="figures/tables or sidecars (default: all under --results-dir)")
    check.add_argument("--results-dir", default="results", help="where to look for sidecars when no path is given")
    check.add_argument(
        "--root",
        default=None,
        help="directory recorded paths are relative to (default: the one recorded in each sidecar)",
    )
    check.add_argument("--no-weights", action="store_true", help="skip re-hashing model weight files (fast)")
    check.set_defaults(func=_audit)

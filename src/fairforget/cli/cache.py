"""`fairforget cache list|verify|gc`: inspect, check and clean the result store.

The store dir defaults to the config's `store_dir` (`--configfile`, default `config/config.yaml`, relative to
the current directory like Snakemake's); `--store DIR` overrides it.
"""

from __future__ import annotations

import argparse

from fairforget.config.files import DEFAULT_CONFIGFILE, load_config
from fairforget.errors import ConfigError
from fairforget.store import ResultStore, collect_garbage


def _config_value(args: argparse.Namespace, key: str) -> str:
    config = load_config(args.configfile)
    if key not in config:
        raise ConfigError(f"{args.configfile}: config key '{key}' is missing")
    return str(config[key])


def _store(args: argparse.Namespace) -> ResultStore:
    root = args.store if args.store else _config_value(args, "store_dir")
    store = ResultStore(root)
    if not store.root.is_dir():
        print(f"note: store dir {store.root} does not exist (yet)")
    return store


def _cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    entries = store.list_entries()
    print(f"{'key':<16}  {'kind':<18}  {'checkpoint':<12}  {'size':>10}  created")
    for info in entries:
        if info.valid:
            print(
                f"{info.key[:16]:<16}  {str(info.kind):<18}  {str(info.checkpoint_hash)[:12]:<12}  "
                f"{format_size(info.size_bytes + info.artifacts_bytes):>10}  {info.created}"
            )
        else:
            size = format_size(info.size_bytes)
            print(f"{info.key[:16]:<16}  {'CORRUPT':<18}  {'?':<12}  {size:>10}  {info.problem}")
    total = sum(info.size_bytes + info.artifacts_bytes for info in entries)
    print(f"{len(entries)} entries, {format_size(total)} in {store.root}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    store = _store(args)
    n_entries = sum(1 for _ in store.entry_paths())
    bad = store.verify(repair=args.repair)
    for info in bad:
        action = "moved to corrupt/" if args.repair else "left in place (use --repair to move it aside)"
        print(f"CORRUPT {info.path}: {info.problem}; {action}")
    leftovers = store.temp_files()
    if leftovers:
        print(f"{len(leftovers)} temporary file(s) of unfinished writes (ignored by reads; gc removes old ones)")
    print(f"{n_entries - len(bad)} of {n_entries} entries verified in {store.root}")
    # Non-zero whenever corruption was found, repaired or not, so scripts notice it happened.
    return 1 if bad else 0


def _cmd_gc(args: argparse.Namespace) -> int:
    store = _store(args)
    results = args.results or [_config_value(args, "results_dir")]
    report = collect_garbage(store, results, delete=args.delete, min_age_s=args.min_age_hours * 3600.0)
    verb = "removed" if args.delete else "would remove"
    for info in report.unreferenced:
        print(
            f"{verb} {info.key[:16]}  {info.kind}  {str(info.checkpoint_hash)[:12]}  "
            f"{format_size(info.size_bytes)}  {info.created}"
        )
    for info in report.corrupt:
        print(f"kept CORRUPT {info.path}: {info.problem} (run `fairforget cache verify --repair`)")
    for path in report.stale_temp_files:
        print(f"{verb} stale temporary file {path}")
    for path in report.orphan_artifacts:
        print(f"{verb} files folder no entry names {path}")
    print(
        f"{verb} {len(report.unreferenced)} unreferenced entries ({format_size(report.bytes_freed)}), "
        f"{len(report.stale_temp_files)} temp files, {len(report.orphan_artifacts)} orphan files folders, "
        f"{len(report.stale_refs)} stale use records; kept "
        f"{report.kept_referenced} referenced and {len(report.kept_recent)} younger than {args.min_age_hours} h"
    )
    if not args.delete and (report.unreferenced or report.stale_temp_files or report.orphan_artifacts):
        print("dry run: nothing was deleted; rerun with --delete to delete")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `cache` subcommand group to the `fairforget` command line."""
    cache = subparsers.add_parser("cache", help="inspect, verify and clean the result store")
    commands = cache.add_subparsers(dest="cache_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--store", help="store dir (default: store_dir of the config)")
        parser.add_argument("--configfile", default=DEFAULT_CONFIGFILE, help=f"default {DEFAULT_CONFIGFILE}")

    listing = commands.add_parser("list", help="list entries: key, kind, checkpoint, size, created")
    common(listing)
    listing.set_defaults(func=_cmd_list)

    verify = commands.add_parser("verify", help="re-hash every entry; exit 1 naming corrupt ones")
    common(verify)
    verify.add_argument("--repair", action="store_true", help="move corrupt entries to corrupt/ (never deletes)")
    verify.set_defaults(func=_cmd_verify)

    gc = commands.add_parser("gc", help="remove entries no current result references (dry run unless --delete)")
    common(gc)
    gc.add_argument(
        "--results",
        action="append",
        metavar="DIR",
        help="results dir to scan for references (repeatable; default: results_dir of the config)",
    )
    gc.add_argument("--delete", action="store_true", help="really delete (default: only list)")
    gc.add_argument(
        "--min-age-hours",
        type=float,
        default=1.0,
        help="keep entries younger than this: a running job writes its entry before its result (default 1)",
    )
    gc.set_defaults(func=_cmd_gc)


def format_size(size_bytes: int) -> str:
    """Human-readable size (KiB = 1024 bytes)."""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    value = float(size_bytes)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"

"""`fairforget` command line: cache, provenance, audit, code and plan subcommands.

Each subcommand group lives in its own module exposing `register(subparsers)`, so adding one touches only the
list below.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from fairforget.errors import FairforgetError

SUBCOMMAND_MODULES = ("fairforget.cli.cache", "fairforget.cli.provenance", "fairforget.cli.code", "fairforget.cli.plan")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fairforget", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FairforgetError as err:
        print(f"fairforget: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

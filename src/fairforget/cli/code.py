"""`fairforget code`: the code fingerprint of every component a study uses (ids and values for `code_pin`)."""

from __future__ import annotations

import argparse

from fairforget.code_identity import describe
from fairforget.config.files import DEFAULT_CONFIGFILE, load_config
from fairforget.registry import load_plugins


def _code(args: argparse.Namespace) -> int:
    from fairforget.workflow.code_params import components

    config = load_config(args.configfile)
    load_plugins(config.get("plugins") or [], base_dir=args.base_dir)
    found = components(config)
    print(describe(found.items()))
    pins = config.get("code_pin") or {}
    for cid, value in sorted(pins.items()):
        state = "current" if found.get(cid, {}).get("sha256") == value else "differs from the current code"
        print(f"pinned {cid} = {value[:16]} ({state})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    code = subparsers.add_parser("code", help="list the code fingerprint of every component of a study")
    code.add_argument("--configfile", default=DEFAULT_CONFIGFILE, help=f"default {DEFAULT_CONFIGFILE}")
    code.add_argument("--base-dir", default=".", help="folder plug-in paths are relative to (default: .)")
    code.set_defaults(func=_code)

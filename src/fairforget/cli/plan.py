"""`fairforget plan`: jobs per rule, tokens, FLOPs and GPU-hours of a study, before launching it."""

from __future__ import annotations

import argparse
import copy

from fairforget.cli.cache import DEFAULT_CONFIGFILE, _load_config
from fairforget.config.schema import SCHEMA
from fairforget.workflow.plan import A100_BF16_TFLOPS, DEFAULT_MFU, plan_study, render_plan


def _plan(args: argparse.Namespace) -> int:
    from snakemake.utils import validate

    config = copy.deepcopy(_load_config(args.configfile))
    # the defaults the Snakefile sets, so that the plan sees the config the workflow runs
    validate(config, str(args.schema), set_default=True)
    rows, params = plan_study(config, repo=args.base_dir)
    print(render_plan(rows, params, args.gpu_peak_tflops, args.mfu))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    plan = subparsers.add_parser("plan", help="jobs per rule, tokens, FLOPs and GPU-hours of a study")
    plan.add_argument("--configfile", default=DEFAULT_CONFIGFILE, help=f"default {DEFAULT_CONFIGFILE}")
    plan.add_argument("--base-dir", default=".", help="the workflow's folder (shipped GLUE files; default: .)")
    plan.add_argument("--schema", default=str(SCHEMA), help="config schema (default: the repository's)")
    plan.add_argument(
        "--gpu-peak-tflops",
        type=float,
        default=A100_BF16_TFLOPS,
        help=f"the GPU's dense bf16 peak in TFLOP/s (default {A100_BF16_TFLOPS:g}, an A100)",
    )
    plan.add_argument("--mfu", type=float, default=DEFAULT_MFU, help=f"model FLOPs utilisation (default {DEFAULT_MFU})")
    plan.set_defaults(func=_plan)

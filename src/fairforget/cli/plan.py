"""`fairforget plan`: jobs per rule, tokens, FLOPs and GPU-hours of a study, before launching it."""

from __future__ import annotations

import argparse
import copy

from fairforget.config.files import DEFAULT_CONFIGFILE, load_config
from fairforget.config.schema import SCHEMA
from fairforget.workflow.plan import A100_BF16_TFLOPS, DEFAULT_MFU, assumed_rate, plan_study, render_plan


def _plan(args: argparse.Namespace) -> int:
    from snakemake.utils import update_config, validate

    # several files are overlays, merged as `snakemake --configfile A B` merges them (later keys win, nested
    # mappings merged key by key), e.g. config/paper.yaml config/rehearsal.yaml
    config: dict = {}
    for configfile in args.configfile:
        update_config(config, copy.deepcopy(load_config(configfile)))
    # the defaults the Snakefile sets, so that the plan sees the config the workflow runs
    validate(config, str(args.schema), set_default=True)
    assumption = None
    if args.gpu_peak_tflops is not None or args.mfu is not None:
        assumption = assumed_rate(args.gpu_peak_tflops or A100_BF16_TFLOPS, args.mfu or DEFAULT_MFU)
    rows, params, rates = plan_study(config, repo=args.base_dir, assumption=assumption)
    print(render_plan(rows, params, rates))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    plan = subparsers.add_parser("plan", help="jobs per rule, tokens, FLOPs and GPU-hours of a study")
    plan.add_argument(
        "--configfile",
        nargs="+",
        default=[DEFAULT_CONFIGFILE],
        help=f"config file(s), later ones overlaid as snakemake merges them (default {DEFAULT_CONFIGFILE})",
    )
    plan.add_argument("--base-dir", default=".", help="the workflow's folder (shipped GLUE files; default: .)")
    plan.add_argument("--schema", default=str(SCHEMA), help="config schema (default: the repository's)")
    plan.add_argument(
        "--gpu-peak-tflops",
        type=float,
        default=None,
        help=f"assume this dense bf16 peak in TFLOP/s for every model (default: measured rates where benchmarks/ has "
        f"them, else {A100_BF16_TFLOPS:g}, an A100)",
    )
    plan.add_argument(
        "--mfu", type=float, default=None, help=f"assume this model FLOPs utilisation (default {DEFAULT_MFU})"
    )
    plan.set_defaults(func=_plan)

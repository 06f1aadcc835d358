"""Outputs that prove themselves: before Snakemake plans, every product of the study that is on disk is checked
against the records it carries, and a missing or corrupt one is rebuilt (docs/faults.md).

Why this is needed: Snakemake reruns a job whose output is missing only when a target or a job that runs needs
that output. A checkpoint deleted (or lost to a job killed with its Snakemake) while the evaluations made from it
are still on disk is never rebuilt ("Nothing to be done"), and a checkpoint whose files were changed after its
manifest was written is never noticed, since later rules depend on its `.sha256` sidecar and take the folder as
`ancient()`. So at parse time (rules/common.smk, `force_stale_products`) each product group (the outputs of one
job) is checked:

- **partial**: some of its outputs are on disk, others are not;
- **lost**: none is on disk, but a product made from it is (an evaluation of a deleted checkpoint, the table of a
  deleted evaluation: Snakemake would not rebuild it, and a later stage that needs it would fail);
- **corrupt**: its records disagree: sidecar vs the manifest's `content_hash`, the manifest's hash vs its listed
  file hashes, a listed file missing or unlisted one present, a file size other than the manifest records, a file
  whose sha256 differs from the manifest's (re-hashed when the file is newer than the manifest: it was written
  after the manifest vouched for it), a training summary or evaluation result naming another checkpoint.

Such a group's job is forced (Snakemake's `--forcerun` of one of its outputs), with a line naming the job and
why; Snakemake then reruns it and, as always after an upstream job ran, its dependants (evaluations are served by
the result store when the rebuilt checkpoint has the same hash). The checks read only the small records and stat
the large files: cheap enough for every `snakemake` call (FAIRFORGET_VERIFY=quick, the default).
FAIRFORGET_VERIFY=full also re-hashes every file of every checkpoint (a changed byte whose file kept its
modification time, e.g. bit rot or a copy that restored old times, is found only so); FAIRFORGET_VERIFY=off
skips the checks. The trajectory's content is not checked here (its hash enters the evaluation's store key).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from fairforget import paths
from fairforget.errors import ConfigError, FairforgetError, ModelError
from fairforget.fusion import settings as fusion
from fairforget.hashing import sha256_file
from fairforget.models.modeldir import MANIFEST, content_hash, read_sidecar

VERIFY_ENV = "FAIRFORGET_VERIFY"
LEVELS = ("quick", "full", "off")


def verify_level(environ: os._Environ[str] | dict[str, str] = os.environ) -> str:
    level = environ.get(VERIFY_ENV, "quick").strip() or "quick"
    if level not in LEVELS:
        raise ConfigError(f"{VERIFY_ENV}={level!r}: must be one of {', '.join(LEVELS)}")
    return level


@dataclass
class Product:
    """The outputs of one job (the first is a plain file: the one forced), what it is made from, and its check."""

    job: str  # e.g. "finetune llama-tiny/cda/none/full/seed0"
    outputs: tuple[str, ...]
    needs: tuple[str, ...] = ()  # the `job` names of the products it is made from
    check: Callable[[bool], str | None] | None = None  # full -> why the outputs disagree with their records
    dependants: list[Product] = field(default_factory=list)

    def present(self) -> list[str]:
        return [output for output in self.outputs if os.path.exists(output)]


@dataclass(frozen=True)
class Stale:
    product: Product
    reason: str

    def line(self) -> str:
        return f"fairforget: {self.product.job} will run again: {self.reason}"


# ------------------------------------------------------------------------------------------------ the checks


def _json(path: str) -> dict[str, Any]:
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FairforgetError(f"{path} is unreadable ({err})") from err
    if not isinstance(value, dict):
        raise FairforgetError(f"{path} is not a JSON object")
    return value


def _sidecar_hash(sidecar: str) -> str | None:
    """The hash in a sidecar, None when there is none (a dependant's check leaves that to the producer's)."""
    if not os.path.isfile(sidecar):
        return None
    try:
        return read_sidecar(sidecar)
    except FairforgetError:
        return None


def model_dir_problem(model_dir: str, sidecar: str, full: bool = False) -> str | None:
    """Why a model folder and its sidecar cannot be trusted, or None (fairforget.models.modeldir's rules, but
    re-hashing only the files written after the manifest, or every file when `full`)."""
    root = Path(model_dir)
    manifest_path = root / MANIFEST
    try:
        recorded = read_sidecar(sidecar)
        manifest = _json(str(manifest_path))
    except FairforgetError as err:
        return str(err)
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not isinstance(manifest.get("content_hash"), str):
        return f"{manifest_path} lists no files or content_hash"
    if manifest["content_hash"] != recorded:
        return f"{sidecar} says {recorded[:12]}..., {manifest_path} says {manifest['content_hash'][:12]}..."
    if content_hash(listed) != manifest["content_hash"]:
        return f"{manifest_path}: content_hash does not match the listed file hashes"
    on_disk = {
        path.relative_to(root).as_posix(): path
        for path in root.rglob("*")
        if path.is_file() and path.name != MANIFEST and not path.name.startswith(".")
    }
    missing = sorted(set(listed) - set(on_disk))
    if missing:
        return f"{model_dir}: file(s) listed in the manifest are missing: {', '.join(missing)}"
    unlisted = sorted(set(on_disk) - set(listed))
    if unlisted:
        return f"{model_dir}: file(s) not listed in the manifest: {', '.join(unlisted)}"
    manifest_mtime = manifest_path.stat().st_mtime_ns
    for name in sorted(listed):
        if (full or on_disk[name].stat().st_mtime_ns > manifest_mtime) and sha256_file(on_disk[name]) != listed[name]:
            return f"{model_dir}/{name}: sha256 differs from the manifest's (changed after it was written)"
    return None


def _names_checkpoint(result_path: str, sidecar: str) -> str | None:
    """Why a record (training summary, evaluation or downstream result) does not belong to the checkpoint whose
    sidecar is given, or None."""
    try:
        record = _json(result_path)
    except FairforgetError as err:
        return str(err)
    expected = _sidecar_hash(sidecar)
    named = record.get("checkpoint_hash")
    if expected is not None and named != expected:
        return f"{result_path} was made from checkpoint {str(named)[:12]}..., {sidecar} is {expected[:12]}..."
    return None


def finetune_problem(model_dir: str, sidecar: str, summary: str, full: bool) -> str | None:
    return model_dir_problem(model_dir, sidecar, full) or _names_checkpoint(summary, sidecar)


def evaluation_problem(metrics: str, scores_dir: str, sidecar: str) -> str | None:
    if not os.path.isdir(scores_dir):
        return f"{scores_dir} is not a folder"
    return _names_checkpoint(metrics, sidecar)


def results_problem(results: Sequence[str], sidecar: str) -> str | None:
    for result in results:
        problem = _names_checkpoint(result, sidecar)
        if problem:
            return problem
    return None


# ----------------------------------------------------------------------------------------- the study's products


def _records_only(check: Callable[[], str | None]) -> Callable[[bool], str | None]:
    """A check of small records, the same at every FAIRFORGET_VERIFY level."""
    return lambda full: check()


@dataclass(frozen=True)
class Layout:
    """What the workflow's products are: the results dir and the grid (rules/common.smk and rules/inputs/)."""

    results_dir: str
    models: Sequence[str]
    toy_models: Sequence[str]  # built from the workflow's own text (they depend on prepared data)
    runs: Sequence[Any]  # fairforget.config.grid.Run
    fused_runs: Sequence[Any]
    fused_alphas: Sequence[str]
    tasks: Sequence[str]
    downstream_seeds: Sequence[int]
    # the data files the evaluations read (the configured metrics'), and those a run's fine-tuning reads: a
    # product is "lost" only when a product that really was made from it exists (None: every data job)
    evaluation_data: Sequence[str] | None = None
    finetune_data: Callable[[Any], Sequence[str]] | None = None
    # CPU studies: a checkpoint's evaluation job also runs its downstream tasks (rules/inputs/downstream.smk), so
    # a lost downstream result is that job's to redo and the message names it
    downstream_in_evaluation_job: bool = False

    def path(self, template: str, **fields: Any) -> str:
        return paths.under(self.results_dir, template, **fields)

    def data_jobs(self, files: Sequence[str] | None) -> tuple[str, ...]:
        """The data jobs (DATA_JOBS) that write any of `files`; all of them when `files` is None."""
        if files is None:
            return TRAINING_DATA
        read = {os.path.normpath(file) for file in files}
        return tuple(
            job
            for job, outputs in DATA_JOBS.items()
            if any(os.path.normpath(self.path(output)) in read for output in outputs)
        )


DATA_JOBS: dict[str, tuple[str, ...]] = {
    "prepare_general": (paths.GENERAL_META, paths.GENERAL_PRETRAIN, paths.GENERAL_HELDOUT),
    "prepare_planted": (paths.PLANTED_META, paths.PLANTED_CORPUS, paths.PLANTED_TRAIN_PAIRS, paths.PROBES_PLANTED),
    "prepare_debias": (
        paths.DEBIAS_META,
        paths.DEBIAS_SOURCE,
        paths.DEBIAS_REPLAY,
        paths.DEBIAS_PAIRS,
        paths.DEBIAS_WORD_PAIRS,
    ),
    "prepare_probes": (paths.PROBES_META, paths.PROBES_CROWS_PAIRS, paths.PROBES_WINOBIAS, paths.PROBES_STEREOSET),
}
TRAINING_DATA = tuple(DATA_JOBS)  # what fine-tuning and evaluation may read (probes, held-out text, corpora)


def _checkpoint_products(
    layout: Layout, job: str, root: str, run: Any, needs: tuple[str, ...], trained: bool
) -> list[Product]:
    """A fine-tuned (trained) or fused checkpoint, its evaluation and its downstream results; `root` is the
    results layout it lives in (R, or R/fusion/alpha<weight>)."""
    fields = run.wildcards()
    model_dir = paths.under(root, paths.FINETUNED_MODEL, **fields)
    sidecar = paths.under(root, paths.FINETUNED_SIDECAR, **fields)
    label = f"{job} {run.path}" + (f" (alpha {root.rsplit('alpha', 1)[1]})" if not trained else "")
    if trained:
        trajectory = paths.under(root, paths.TRAJECTORY, **fields)
        summary = paths.under(root, paths.TRAIN_SUMMARY, **fields)
        checkpoint = Product(
            label,
            (sidecar, model_dir, trajectory, summary),
            needs,
            lambda full: finetune_problem(model_dir, sidecar, summary, full),
        )
    else:
        checkpoint = Product(
            label, (sidecar, model_dir), needs, lambda full: model_dir_problem(model_dir, sidecar, full)
        )
    evaluate = "evaluate_checkpoint" if trained else "evaluate_fused"
    metrics = paths.under(root, paths.EVAL_FINETUNED, **fields)
    scores = paths.under(root, paths.EVAL_FINETUNED_SCORES, **fields)
    products = [
        checkpoint,
        Product(
            label.replace(job, evaluate, 1),
            (metrics, scores),
            (checkpoint.job, f"evaluate_base {run.model}", *layout.data_jobs(layout.evaluation_data)),
            lambda full: evaluation_problem(metrics, scores, sidecar),
        ),
    ]
    if layout.downstream_in_evaluation_job:
        downstream = evaluate
    else:
        downstream = "downstream_finetuned" if trained else "downstream_fused"
    for task in layout.tasks:
        results = tuple(
            paths.under(root, paths.DOWNSTREAM_FINETUNED, **fields, task=task, dseed=dseed)
            for dseed in layout.downstream_seeds
        )
        products.append(
            Product(
                f"{label.replace(job, downstream, 1)} {task}",
                results,
                (checkpoint.job, f"prepare_downstream {task}"),
                _records_only(partial(results_problem, results, sidecar)),
            )
        )
    return products


def study_products(layout: Layout) -> list[Product]:
    """Every product group of the study, each with the products it is made from."""
    at = layout.path
    products = [Product(job, tuple(at(output) for output in outputs)) for job, outputs in DATA_JOBS.items()]
    products += [
        Product(
            f"prepare_downstream {task}",
            tuple(
                at(template, task=task)
                for template in (paths.DOWNSTREAM_META, paths.DOWNSTREAM_TRAIN, paths.DOWNSTREAM_DEV)
            ),
        )
        for task in layout.tasks
    ]
    for model in layout.models:
        model_dir, sidecar = at(paths.BASE_MODEL, model=model), at(paths.BASE_SIDECAR, model=model)
        base = f"build_base_model {model}"
        products.append(
            Product(
                base,
                (sidecar, model_dir),
                ("prepare_general", "prepare_planted") if model in layout.toy_models else (),
                partial(model_dir_problem, model_dir, sidecar),
            )
        )
        metrics, scores = at(paths.EVAL_BASE, model=model), at(paths.EVAL_BASE_SCORES, model=model)
        products.append(
            Product(
                f"evaluate_base {model}",
                (metrics, scores),
                (base, *layout.data_jobs(layout.evaluation_data)),
                _records_only(partial(evaluation_problem, metrics, scores, sidecar)),
            )
        )
        downstream = "evaluate_base" if layout.downstream_in_evaluation_job else "downstream_base"
        for task in layout.tasks:
            results = tuple(at(paths.DOWNSTREAM_BASE, model=model, task=task, dseed=d) for d in layout.downstream_seeds)
            products.append(
                Product(
                    f"{downstream} {model} {task}",
                    results,
                    (base, f"prepare_downstream {task}"),
                    _records_only(partial(results_problem, results, sidecar)),
                )
            )
    for run in layout.runs:
        base = f"build_base_model {run.model}"
        read = layout.finetune_data(run) if layout.finetune_data is not None else None
        needs = (base, *layout.data_jobs(read))
        products += _checkpoint_products(layout, "finetune", layout.results_dir, run, needs, True)
    fused: list[Product] = []
    for run in layout.fused_runs:
        for alpha in layout.fused_alphas:
            root = at(fusion.FUSED_ROOT, alpha=alpha)
            needs = (f"build_base_model {run.model}", f"finetune {run.path}")
            fused += _checkpoint_products(layout, "fuse", root, run, needs, False)
    analysed = [p.job for p in products if p.job.split()[0] in ANALYSED_JOBS]
    table = Product(
        "aggregate_table",
        (at(paths.TABLE_PARQUET), at(paths.TABLE_CSV), at(paths.DATA_DICTIONARY), at(paths.TABLE_PROVENANCE)),
        tuple(analysed),
    )
    products += [*fused, table, Product("findings", (at(paths.FINDINGS),), (table.job,))]
    if fused:
        fused_analysed = [p.job for p in fused if not p.job.startswith("fuse ")]
        products.append(
            Product(
                "fusion_table",
                (at(fusion.FUSION_TABLE_PARQUET), at(fusion.FUSION_TABLE_CSV), at(fusion.FUSION_TABLE_PROVENANCE)),
                (table.job, *fused_analysed),
            )
        )
    return products


# the products the run table is made from (rules/analysis.smk, aggregate_table's inputs)
ANALYSED_JOBS = ("evaluate_base", "evaluate_checkpoint", "downstream_base", "downstream_finetuned", "finetune")


def stale_products(products: Iterable[Product], full: bool = False) -> list[Stale]:
    """The product groups whose job must run again, each with why (module docstring)."""
    products = list(products)
    by_job = {product.job: product for product in products}
    for product in products:
        product.dependants = []
    for product in products:
        for need in product.needs:
            if need in by_job:
                by_job[need].dependants.append(product)
    stale = []
    for product in products:
        present = product.present()
        if present and len(present) < len(product.outputs):
            missing = [output for output in product.outputs if output not in present]
            stale.append(Stale(product, f"{', '.join(missing)} missing (partial output)"))
        elif present and product.check is not None and (problem := product.check(full)):
            stale.append(Stale(product, problem))
        elif not present:
            made_from_it = next((d for d in product.dependants if d.present()), None)
            if made_from_it is not None:
                stale.append(
                    Stale(
                        product,
                        f"{product.outputs[0]} is missing, while {made_from_it.present()[0]} made from it exists",
                    )
                )
    return stale


def check_checkpoint(model_dir: str | Path, sidecar: str | Path) -> None:
    """Before a job uses a checkpoint, also when its results come from the result store (keyed by the sidecar's
    hash, so a hit would otherwise never look at the files): raise ModelError when the folder does not prove that
    hash (the checks of `model_dir_problem`; every file re-hashed under FAIRFORGET_VERIFY=full)."""
    problem = model_dir_problem(str(model_dir), str(sidecar), full=verify_level() == "full")
    if problem:
        raise ModelError(
            f"checkpoint {model_dir} does not match its sidecar {sidecar}: {problem}; "
            "rerun snakemake to rebuild it (docs/faults.md)"
        )

"""The plan-time checks of products (fairforget.workflow.products) on hand-made folders; through Snakemake on the
micro study: tests/faults/test_rebuild.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fairforget.errors import ModelError
from fairforget.models.modeldir import write_manifest, write_sidecar
from fairforget.workflow.products import Product, check_checkpoint, model_dir_problem, stale_products


@pytest.fixture
def checkpoint(tmp_path: Path) -> tuple[Path, Path]:
    model_dir = tmp_path / "ckpt"
    model_dir.mkdir()
    (model_dir / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    (model_dir / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    old = 1_700_000_000_000_000_000
    for path in model_dir.iterdir():
        os.utime(path, ns=(old, old))  # written before the manifest, as save_model_dir does
    write_manifest(model_dir, "causal")
    sidecar = tmp_path / "ckpt.sha256"
    write_sidecar(model_dir, sidecar)
    return model_dir, sidecar


def _flip(path: Path, keep_mtime: bool) -> None:
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_intact_checkpoint_passes(checkpoint: tuple[Path, Path]) -> None:
    model_dir, sidecar = checkpoint
    assert model_dir_problem(str(model_dir), str(sidecar)) is None
    assert model_dir_problem(str(model_dir), str(sidecar), full=True) is None
    check_checkpoint(model_dir, sidecar)


def test_a_byte_changed_after_the_manifest_is_found_cheaply(checkpoint: tuple[Path, Path]) -> None:
    model_dir, sidecar = checkpoint
    _flip(model_dir / "model.safetensors", keep_mtime=False)
    problem = model_dir_problem(str(model_dir), str(sidecar))
    assert problem is not None and "model.safetensors: sha256 differs" in problem
    with pytest.raises(ModelError, match="does not match its sidecar"):
        check_checkpoint(model_dir, sidecar)


def test_a_rewritten_but_identical_file_passes(checkpoint: tuple[Path, Path]) -> None:
    model_dir, sidecar = checkpoint
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes())  # newer than the manifest: re-hashed, and equal
    assert model_dir_problem(str(model_dir), str(sidecar)) is None


def test_a_flip_that_kept_the_mtime_needs_the_full_check(checkpoint: tuple[Path, Path]) -> None:
    model_dir, sidecar = checkpoint
    _flip(model_dir / "model.safetensors", keep_mtime=True)
    assert model_dir_problem(str(model_dir), str(sidecar)) is None  # what the quick check cannot see
    problem = model_dir_problem(str(model_dir), str(sidecar), full=True)
    assert problem is not None and "sha256 differs" in problem


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d, s: s.write_text("0" * 64 + "\n"), "says 000000000000..."),
        (lambda d, s: s.unlink(), "cannot read the hash sidecar"),
        (lambda d, s: (d / "manifest.json").unlink(), "manifest.json is unreadable"),
        (lambda d, s: (d / "config.json").unlink(), "missing: config.json"),
        (lambda d, s: (d / "extra.bin.txt").write_text("x"), "not listed in the manifest: extra.bin.txt"),
    ],
)
def test_records_that_disagree_are_named(checkpoint: tuple[Path, Path], damage, message: str) -> None:
    model_dir, sidecar = checkpoint
    damage(model_dir, sidecar)
    problem = model_dir_problem(str(model_dir), str(sidecar))
    assert problem is not None and message in problem


def _graph(tmp_path: Path) -> tuple[Product, Product, Product]:
    ckpt = Product("finetune r", (str(tmp_path / "r.sha256"), str(tmp_path / "r.traj")))
    evaluation = Product("evaluate_checkpoint r", (str(tmp_path / "r.json"),), ("finetune r",))
    table = Product("aggregate_table", (str(tmp_path / "table"),), ("evaluate_checkpoint r",))
    return ckpt, evaluation, table


def test_nothing_is_stale_before_anything_is_built_or_when_all_is_there(tmp_path: Path) -> None:
    products = _graph(tmp_path)
    assert stale_products(products) == []
    for product in products:
        for output in product.outputs:
            Path(output).write_text("{}")
    assert stale_products(products) == []


def test_lost_and_partial_products_are_named(tmp_path: Path) -> None:
    ckpt, evaluation, table = _graph(tmp_path)
    Path(table.outputs[0]).write_text("t")  # the table exists, the evaluation and checkpoint were deleted
    stale = stale_products([ckpt, evaluation, table])
    assert [s.product.job for s in stale] == ["evaluate_checkpoint r"]
    assert f"{evaluation.outputs[0]} is missing, while {table.outputs[0]} made from it exists" in stale[0].line()
    Path(ckpt.outputs[1]).write_text("trajectory without its checkpoint")
    stale = stale_products([ckpt, evaluation, table])
    assert [s.product.job for s in stale] == ["finetune r", "evaluate_checkpoint r"]
    assert "r.sha256 missing (partial output)" in stale[0].reason


def test_a_record_of_another_checkpoint_is_stale(tmp_path: Path, checkpoint: tuple[Path, Path]) -> None:
    from fairforget.workflow.products import evaluation_problem

    model_dir, sidecar = checkpoint
    metrics, scores = tmp_path / "metrics.json", tmp_path / "scores"
    scores.mkdir()
    metrics.write_text(json.dumps({"checkpoint_hash": sidecar.read_text().strip()}))
    assert evaluation_problem(str(metrics), str(scores), str(sidecar)) is None
    metrics.write_text(json.dumps({"checkpoint_hash": "f" * 64}))
    assert "was made from checkpoint ffffffffffff" in str(evaluation_problem(str(metrics), str(scores), str(sidecar)))
    metrics.write_text("{not json")
    assert "unreadable" in str(evaluation_problem(str(metrics), str(scores), str(sidecar)))


def test_a_data_product_the_metrics_do_not_read_is_not_lost(tmp_path: Path) -> None:
    """A study whose metrics read only the planted probes and held-out text never prepares CrowS-Pairs & co.
    (prepare_probes): its missing outputs beside a finished evaluation are not "lost". With the probes read, the
    same state is."""
    from fairforget import paths
    from fairforget.workflow.products import Layout, study_products

    results = str(tmp_path / "R")

    def layout(evaluation_data: list[str]) -> Layout:
        return Layout(results, ["tiny"], [], [], [], [], [], [0], evaluation_data=evaluation_data)

    read = [paths.under(results, paths.GENERAL_HELDOUT), paths.under(results, paths.PROBES_PLANTED)]
    assert layout(read).data_jobs(read) == ("prepare_general", "prepare_planted")
    base_metrics = Path(paths.under(results, paths.EVAL_BASE, model="tiny"))
    base_metrics.parent.mkdir(parents=True)
    base_metrics.write_text("{}")
    (base_metrics.parent / "scores").mkdir()
    for output in (*read, paths.under(results, paths.PLANTED_META)):
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text("{}")
    lost = [s.product.job for s in stale_products(study_products(layout(read))) if "is missing, while" in s.reason]
    assert "prepare_probes" not in lost
    with_crows = [*read, paths.under(results, paths.PROBES_CROWS_PAIRS)]
    lost = [
        s.product.job for s in stale_products(study_products(layout(with_crows))) if "is missing, while" in s.reason
    ]
    assert "prepare_probes" in lost


@pytest.mark.parametrize(
    ("in_evaluation_job", "rule", "base_rule"),
    [(True, "evaluate_checkpoint", "evaluate_base"), (False, "downstream_finetuned", "downstream_base")],
)
def test_a_lost_downstream_result_names_the_job_that_redoes_it(
    tmp_path: Path, in_evaluation_job: bool, rule: str, base_rule: str
) -> None:
    """On CPU studies a model's evaluation job runs its downstream tasks: the line names that job, not a
    downstream_finetuned or downstream_base job the study does not have."""
    from fairforget.paths import Run
    from fairforget.workflow.products import Layout, study_products

    run = Run("tiny", "cda", "none", "full", 0)
    layout = Layout(
        str(tmp_path), ["tiny"], [], [run], [], [], ["sst2"], [0], downstream_in_evaluation_job=in_evaluation_job
    )
    tuned = [p.job for p in study_products(layout) if p.job.endswith(" sst2") and "seed0" in p.job]
    assert [job.split()[0] for job in tuned] == [rule]
    base = [p.job for p in study_products(layout) if p.job.endswith(" tiny sst2")]
    assert base == [f"{base_rule} tiny sst2"]

"""A config that drops a method, through Snakemake on a copy of the finished micro study: nothing the user did not
ask to delete is deleted. (Interrupted and failing jobs: tests/faults/test_interrupt.py.)"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from fairforget.models.modeldir import read_sidecar, verify_model_dir
from micro_faults import plan
from workflow_helpers import snakemake

pytestmark = pytest.mark.slow

DROPPED_RUN = "bert-tiny/none/none/full/seed0"  # of the objective `none`, which the changed config drops


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_checkpoints_of_methods_that_left_the_config_are_kept(micro_study_copy: Path) -> None:
    """Drop objective `none` from the micro study and run the whole study: the `none` runs' checkpoints, training
    records, evaluations and store entries stay as they were, though the analysis now covers `cda` only, and no
    job but the tables, figures and findings runs."""
    study = micro_study_copy
    results = study / "results"
    kept = {name: _tree(results / name) for name in ("models", "training", "eval")}
    entries = _tree(results / "store" / "entries")
    config = yaml.safe_load((study / "config/micro.yaml").read_text())
    del config["objectives"]["none"]
    (study / "config/cda_only.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    changed = ("--configfile", "config/cda_only.yaml")
    planned, _ = plan(study, *changed)
    assert planned and not {"finetune", "evaluate_checkpoint", "build_base_model"} & set(planned), planned

    snakemake(study, "--cores", "2", *changed)

    for name, before in kept.items():
        after = _tree(results / name)
        assert {path: after.get(path) for path in before} == before, f"results/{name} lost or changed files"
    model_dir = results / "models/finetuned" / DROPPED_RUN
    assert verify_model_dir(model_dir)["content_hash"] == read_sidecar(f"{model_dir}.sha256")
    assert {p: b for p, b in _tree(results / "store" / "entries").items() if p in entries} == entries
    table = pl.read_parquet(results / "tables" / "runs.parquet")
    assert set(table["objective"]) == {"cda"}

"""The result layout (fairforget.paths): templates, filling in, and recognising result files by their path."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget.errors import DataError
from fairforget.paths import (
    CONTRACT_FILES,
    DOWNSTREAM_FINETUNED,
    FINETUNED_MODEL,
    classify,
    log_file,
    manifest_for,
    run_id,
    run_path,
    under,
)

RUN = {"model": "bert-tiny", "objective": "cda", "remedy": "l2sp", "size": "full", "seed": 0}


def test_under_fills_given_fields_and_keeps_the_other_wildcards():
    finetuned = "results/models/finetuned/{model}/{objective}/{remedy}/{size}/seed{seed}"
    assert under("results", FINETUNED_MODEL) == finetuned
    assert under("results", DOWNSTREAM_FINETUNED, dseed=2) == (
        "results/downstream/finetuned/{model}/{objective}/{remedy}/{size}/seed{seed}/{task}/seed2.json"
    )
    assert under(Path("out"), FINETUNED_MODEL, **RUN) == "out/models/finetuned/bert-tiny/cda/l2sp/full/seed0"
    assert log_file("R", "finetune", run_path(**RUN)) == "R/logs/finetune/bert-tiny/cda/l2sp/full/seed0.log"
    assert run_id(run_path(**RUN)) == "bert-tiny__cda__l2sp__full__seed0"


@pytest.mark.parametrize("kind", sorted(CONTRACT_FILES))
def test_every_contract_file_is_recognised_from_its_own_template(kind):
    fields = {**RUN, "seed": 3, "size": "120", "task": "sst2", "dseed": 1}
    info = classify(under("some/results", CONTRACT_FILES[kind], **fields))
    assert info is not None and info.kind == kind and info.root == Path("some/results")
    for name, value in info.fields.items():
        assert value == str(fields[name])
    if "objective" in info.fields:
        assert info.run_path == "bert-tiny/cda/l2sp/120/seed3"
        assert manifest_for(info) == Path("some/results/models/finetuned/bert-tiny/cda/l2sp/120/seed3/manifest.json")


def test_paths_outside_the_contract_are_not_recognised():
    assert classify("results/models/finetuned/m/o/r/half/seed0.sha256") is None  # size is full or a number
    assert classify("results/notes.json") is None
    info = classify("results/data/downstream/sst2/meta.json")
    assert info is not None and info.kind == "downstream_meta"
    with pytest.raises(DataError, match="no model or run"):
        manifest_for(info)

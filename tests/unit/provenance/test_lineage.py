"""Provenance lineage (fairforget.provenance.lineage) reaches raw data and base weights, and links a checkpoint
to its base."""

from __future__ import annotations

from fairforget.provenance.record import build_record
from fairforget.provenance.report import format_lineage
from provenance_helpers import lineage  # noqa: F401 (a fixture)


def test_lineage_reaches_raw_data_and_base_weights(lineage):
    tree = format_lineage(lineage.results / "findings.md")
    for expected in (
        "results/tables/runs.parquet [derived]",
        "results/eval/finetuned/bert-tiny/cda/none/full/seed0/metrics.json [eval_finetuned]",
        "results/models/finetuned/bert-tiny/cda/none/full/seed0/manifest.json [finetuned_manifest]",
        "results/models/base/bert-tiny/manifest.json [base_manifest]",
        "results/models/base/bert-tiny/model.safetensors [model_file]",
        "results/data/general/pretrain.jsonl [prepared_data]",
        "resources/SHA256SUMS [raw_data_checksums]",
        "resources/data/wikitext/wiki.valid.txt [raw_data]",
    ):
        assert expected in tree, expected


def test_manifest_parent_hash_links_to_base(lineage):
    record = build_record("t", [lineage.eval_paths[-1]], {}, lineage.repo)
    tuned = next(n for n in record["lineage"].values() if n["kind"] == "finetuned_manifest")
    base = next(n for n in record["lineage"].values() if n["kind"] == "base_manifest")
    assert tuned["facts"]["parent_hash"] == base["facts"]["content_hash"]
    assert base["facts"]["content_hash"] in record["checkpoint_hashes"]

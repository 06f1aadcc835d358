"""Provenance lineage reaches raw data and base weights; the audit catches any changed or missing file."""

import pytest

from fairforget import cli, pipeline
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.provenance.audit import audit
from fairforget.provenance.record import build_record, finish
from fairforget.provenance.report import format_lineage, summarize_lineage

CONFIG = {"analysis": {"permutations": 199}}


@pytest.fixture()
def lineage(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy(models=("bert-tiny",), objectives=("none", "cda")))
    results = paths.results
    paths.aggregate(CONFIG, summaries=False)
    pipeline.findings(results / "tables/runs.parquet", results / "findings.md", CONFIG, repo_root=tmp_path)
    return paths


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


def test_audit_passes_fresh_then_names_changed_raw_file(lineage, capsys):
    product = lineage.results / "findings.md"
    report = audit([product])
    assert report.ok and report.checked > 20 and report.sidecars == 2
    assert cli.main(["audit", str(product)]) == 0
    assert "audit OK" in capsys.readouterr().out

    raw = lineage.repo / "resources/data/wikitext/wiki.valid.txt"
    data = bytearray(raw.read_bytes())
    data[0] ^= 0x01  # one byte changed
    raw.write_bytes(bytes(data))
    report = audit([product])
    assert not report.ok
    assert any(str(raw) in problem and "changed" in problem for problem in report.problems)
    assert cli.main(["audit", str(product)]) == 1
    assert str(raw) in capsys.readouterr().out


def test_audit_names_missing_result_and_changed_output(lineage):
    product = lineage.results / "findings.md"
    result = next(p for p in lineage.eval_paths if "finetuned" in p.as_posix())
    result.unlink()
    problems = audit([product]).problems
    assert any(str(result) in p and "missing" in p for p in problems)

    product.write_text(product.read_text() + "edited\n")
    assert any(str(product) in p and "output changed" in p for p in audit([product]).problems)


def test_audit_weights_optional(lineage):
    weights = lineage.results / "models/base/bert-tiny/model.safetensors"
    weights.write_bytes(weights.read_bytes() + b"\0")
    product = lineage.results / "findings.md"
    assert any(str(weights) in p for p in audit([product]).problems)
    fast = audit([product], check_weights=False)
    assert fast.ok and fast.skipped_weights > 0


def test_audit_without_sidecar_is_an_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"png")
    assert cli.main(["audit", str(tmp_path / "x.png")]) == 2


def test_data_changed_since_training_is_caught(lineage):
    # The fine-tuned manifest lists the debiasing data with its hash at training time.
    from fairforget.data.texttable import read_text_records, write_text_table

    source = lineage.results / "data/debias/source.arrow"
    records = read_text_records(source) + [{"id": "new", "text": "she", "origin": "general"}]
    write_text_table(source, records, ("id", "text", "origin"))
    pipeline.findings(
        lineage.results / "tables/runs.parquet", lineage.results / "findings.md", CONFIG, repo_root=lineage.repo
    )
    problems = audit([lineage.results / "findings.md"]).problems
    assert any(str(source) in p and "changed" in p for p in problems)


def test_provenance_command_prints_summary_or_full_tree(lineage, capsys):
    assert cli.main(["provenance", str(lineage.results / "findings.md")]) == 0
    out = capsys.readouterr().out
    assert "rule=findings" in out and "  checkpoints (" in out and "[raw_data]" not in out
    assert cli.main(["provenance", "--full", str(lineage.results / "findings.md")]) == 0
    assert "resources/data/wikitext/wiki.test.txt [raw_data]" in capsys.readouterr().out


def test_file_used_in_two_versions_is_reported(lineage):
    import json

    from fairforget.hashing import sha256_file

    # The fine-tuned checkpoint claims a different version of the pretraining text than the base used.
    pretrain = lineage.results / "data/general/pretrain.jsonl"
    manifest_path = lineage.results / "models/finetuned/bert-tiny/cda/none/full/seed0/manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["data_files"]["results/data/general/pretrain.jsonl"] = "f" * 64
    manifest_path.write_text(json.dumps(manifest))
    assert sha256_file(pretrain) != "f" * 64
    record = build_record("t", lineage.eval_paths, {}, lineage.repo)
    node = record["lineage"]["results/data/general/pretrain.jsonl"]
    assert node["facts"]["other_claimed_sha256"] == ["f" * 64]
    product = lineage.repo / "product.txt"
    product.write_text("x")
    finish(record, [product], lineage.repo / "product.provenance.json")
    problems = audit([product]).problems
    assert any(str(pretrain) in p and "different hashes" in p for p in problems)


def test_summary_groups_by_stage_and_leaves_out_unnamed_raw_files(lineage):
    summary = format_lineage(lineage.results / "findings.md")  # the --full tree, for comparison
    short = summarize_lineage(lineage.results / "findings.md")
    assert "resources/data/wikitext/wiki.valid.txt [raw_data]" in summary
    lines = short.splitlines()
    for group in ("analysis inputs", "evaluations", "checkpoints", "base models", "prepared data"):
        assert any(line.startswith(f"  {group} (") for line in lines), group
    assert "model.safetensors" not in short and "model files" in lines[-1]
    listed = [line.split()[0] for line in lines if line.startswith("    ")]
    assert len(listed) == len(set(listed))  # each file once, also across the table's and findings' records
    assert len(lines) < len(summary.splitlines())


def test_audit_names_a_changed_file_once_with_every_record_reaching_it(lineage):
    figure_record = build_record("figures", [lineage.eval_paths[0]], {}, lineage.repo)
    product = lineage.repo / "other_product.txt"
    product.write_text("x")
    finish(figure_record, [product], lineage.repo / "other_product.provenance.json")
    weights = lineage.results / "models/base/bert-tiny/model.safetensors"
    weights.write_bytes(weights.read_bytes() + b"\0")
    report = audit([lineage.results / "findings.md", product])
    about_weights = [p for p in report.problems if str(weights) in p]
    assert len(about_weights) == 1
    assert "runs.provenance.json" in about_weights[0] and "other_product.provenance.json" in about_weights[0]

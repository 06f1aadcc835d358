"""The provenance audit (fairforget.provenance.audit) catches any changed or missing file a lineage reaches."""

from fairforget import cli, pipeline
from fairforget.provenance.audit import audit
from fairforget.provenance.record import build_record, finish
from provenance_helpers import CONFIG, lineage  # noqa: F401 (a fixture)


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

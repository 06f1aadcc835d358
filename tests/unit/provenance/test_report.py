"""The provenance summary (fairforget.provenance.report): grouped by stage, each file once, shorter than the
full tree."""

from __future__ import annotations

from fairforget.provenance.report import format_lineage, summarize_lineage
from provenance_helpers import lineage  # noqa: F401 (a fixture)


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

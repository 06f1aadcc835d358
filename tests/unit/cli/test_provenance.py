"""`fairforget provenance` (fairforget.cli.provenance): the summary, or the full tree with --full."""

from __future__ import annotations

from fairforget import cli
from provenance_helpers import lineage  # noqa: F401 (a fixture)


def test_provenance_command_prints_summary_or_full_tree(lineage, capsys):
    assert cli.main(["provenance", str(lineage.results / "findings.md")]) == 0
    out = capsys.readouterr().out
    assert "rule=findings" in out and "  checkpoints (" in out and "[raw_data]" not in out
    assert cli.main(["provenance", "--full", str(lineage.results / "findings.md")]) == 0
    assert "resources/data/wikitext/wiki.test.txt [raw_data]" in capsys.readouterr().out

"""The README's rule-graph picture is current: docs/rulegraph.dot equals `snakemake --rulegraph` of the toy config
(as text, rules named and sorted), and docs/rulegraph.svg is the drawing of that DOT."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fairforget.workflow.rulegraph import layers, normalized_dot, parse_dot, render_svg

REPO = Path(__file__).resolve().parents[3]
DOT = REPO / "docs" / "rulegraph.dot"
SVG = REPO / "docs" / "rulegraph.svg"
REGENERATE = (
    ".venv/bin/snakemake --rulegraph --quiet all | .venv/bin/python -m fairforget.workflow.rulegraph docs/rulegraph"
)


@pytest.mark.slow  # starts Snakemake (a dry run): not in the fast tier
def test_the_committed_rule_graph_is_the_workflows(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--rulegraph", "--quiet", "all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    names, edges = parse_dot(result.stdout)
    assert "finetune" in names and ("finetune", "evaluate_checkpoint") in edges
    assert DOT.read_text(encoding="utf-8") == normalized_dot(names, edges), f"docs/rulegraph.dot is stale: {REGENERATE}"


def test_the_picture_is_drawn_from_the_committed_dot():
    names, edges = parse_dot(DOT.read_text(encoding="utf-8"))
    assert SVG.read_text(encoding="utf-8") == render_svg(names, edges), f"docs/rulegraph.svg is stale: {REGENERATE}"
    assert "docs/rulegraph.svg" in (REPO / "README.md").read_text(encoding="utf-8")


def test_layers_follow_the_dependencies():
    names, edges = ["a", "b", "c", "d"], {("a", "b"), ("b", "d"), ("a", "c"), ("c", "d")}
    rows = layers(names, edges)
    assert rows == [["a"], ["b", "c"], ["d"]]
    assert parse_dot('x[label = "a"];\ny[label = "b"];\nx -> y\n') == (["a", "b"], {("a", "b")})
    assert parse_dot(normalized_dot(names, edges)) == (names, edges)

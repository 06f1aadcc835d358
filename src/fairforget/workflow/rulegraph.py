"""The workflow's rule graph as a picture for the README, drawn without graphviz.

    .venv/bin/snakemake --rulegraph --quiet all | .venv/bin/python -m fairforget.workflow.rulegraph docs/rulegraph

writes `docs/rulegraph.dot` (the rule graph with rules named and sorted, so it compares as text) and
`docs/rulegraph.svg` (drawn from it). tests/unit/workflow/test_rulegraph.py checks both are current: the DOT against
`snakemake --rulegraph` of the toy config, the SVG against a fresh drawing of the DOT.

Layout: a rule's layer is its longest path from a rule with no inputs (stage order: data at the top, `all` at
the bottom); within a layer, rules are ordered by the mean position of the rules they read from (two sweeps),
ties by name. Edges go from the bottom of a rule's box to the top of a reader's box.
"""

from __future__ import annotations

import re
import sys
from html import escape
from pathlib import Path

BOX_WIDTH, BOX_HEIGHT, GAP_X, GAP_Y, MARGIN = 150, 30, 24, 46, 16
STAGE_COLOURS = {  # by rule name prefix: one colour per stage
    "prepare": "#4e79a7",
    "build_base_model": "#f28e2b",
    "finetune": "#e15759",
    "fuse": "#edc948",
    "evaluate": "#76b7b2",
    "downstream": "#59a14f",
    "aggregate_table": "#b07aa1",
    "findings": "#b07aa1",
    "figures": "#b07aa1",
    "fusion_table": "#b07aa1",
}


def parse_dot(text: str) -> tuple[list[str], set[tuple[str, str]]]:
    """Rule names and (producer, consumer) edges of `snakemake --rulegraph` output (or of `normalized_dot`)."""
    labels = dict(re.findall(r"^\s*(\w+)\s*\[label\s*=\s*\"([^\"]+)\"", text, flags=re.MULTILINE))
    node = r"(\w+|\"[^\"]+\")"
    edges = {
        (labels.get(a, a), labels.get(b, b))
        for a, b in (
            (x.strip('"'), y.strip('"')) for x, y in re.findall(rf"^\s*{node}\s*->\s*{node}", text, flags=re.MULTILINE)
        )
    }
    declared = re.findall(r"^\s*\"([^\"]+)\";", text, flags=re.MULTILINE)
    names = sorted(set(labels.values()) | set(declared) | {n for edge in edges for n in edge})
    return names, edges


def normalized_dot(names: list[str], edges: set[tuple[str, str]]) -> str:
    lines = ["digraph rulegraph {"]
    lines += [f'    "{name}";' for name in sorted(names)]
    lines += [f'    "{a}" -> "{b}";' for a, b in sorted(edges)]
    return "\n".join(lines) + "\n}\n"


def layers(names: list[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    parents = {name: sorted(a for a, b in edges if b == name) for name in names}
    depth: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((level(p) for p in parents[name]), default=-1)
        return depth[name]

    rows: list[list[str]] = [[] for _ in range(1 + max((level(n) for n in names), default=0))]
    for name in sorted(names):
        rows[level(name)].append(name)
    for _ in range(2):  # barycentre sweeps: a rule sits under the rules it reads from
        position = {name: i for row in rows for i, name in enumerate(row)}
        for row in rows[1:]:
            row.sort(key=lambda n: (sum(position[p] for p in parents[n]) / max(1, len(parents[n])), n))
            position.update({name: i for i, name in enumerate(row)})
    return rows


def render_svg(names: list[str], edges: set[tuple[str, str]]) -> str:
    rows = layers(names, edges)
    widest = max(len(row) for row in rows)
    width = 2 * MARGIN + widest * BOX_WIDTH + (widest - 1) * GAP_X
    height = 2 * MARGIN + len(rows) * BOX_HEIGHT + (len(rows) - 1) * GAP_Y
    where: dict[str, tuple[float, float]] = {}
    for r, row in enumerate(rows):
        row_width = len(row) * BOX_WIDTH + (len(row) - 1) * GAP_X
        left = (width - row_width) / 2
        for i, name in enumerate(row):
            where[name] = (left + i * (BOX_WIDTH + GAP_X), MARGIN + r * (BOX_HEIGHT + GAP_Y))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
        "<title>fairforget rule graph (snakemake --rulegraph)</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#888"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for a, b in sorted(edges):
        (xa, ya), (xb, yb) = where[a], where[b]
        x1, y1, x2, y2 = xa + BOX_WIDTH / 2, ya + BOX_HEIGHT, xb + BOX_WIDTH / 2, yb
        bend = (y2 - y1) / 2
        out.append(
            f'<path d="M {x1:.1f} {y1:.1f} C {x1:.1f} {y1 + bend:.1f} {x2:.1f} {y2 - bend:.1f} '
            f'{x2:.1f} {y2:.1f}" fill="none" stroke="#888" stroke-width="1.3" marker-end="url(#arrow)"/>'
        )
    for name in sorted(names):
        x, y = where[name]
        colour = next((c for prefix, c in STAGE_COLOURS.items() if name.startswith(prefix)), "#9c9c9c")
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="8" '
            f'fill="white" stroke="{colour}" stroke-width="2"/>'
        )
        out.append(
            f'<text x="{x + BOX_WIDTH / 2:.1f}" y="{y + BOX_HEIGHT / 2 + 4:.1f}" '
            f'text-anchor="middle">{escape(name)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    stem = Path(argv[1] if len(argv) > 1 else "docs/rulegraph")
    names, edges = parse_dot(sys.stdin.read())
    if not names:
        print("rulegraph: no rules in the DOT text on stdin", file=sys.stderr)
        return 1
    stem.with_suffix(".dot").write_text(normalized_dot(names, edges), encoding="utf-8")
    stem.with_suffix(".svg").write_text(render_svg(names, edges), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Figures a reader understands at a glance: no overlapping or cut-off text, one colour per objective in every
figure, legend keys with one meaning each, axes named by the data dictionary, the verdicts figure drawn from the
findings, and figures that depend on the table's content only (not its row order)."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.lines import Line2D
from PIL import Image

from fairforget.analysis.claims import remedies_verdict
from fairforget.analysis.dictionary import label
from fairforget.analysis.figure_set import figure_makers
from fairforget.analysis.figures import panels
from fairforget.analysis.findings import compute_findings
from fairforget.analysis.report_names import FIGURE_NAMES
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.style import OBJECTIVE_COLOURS, OKABE_ITO, SMALL, StudyStyle, grouped_legend, objective_colours
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.analysis.table import read_run_table
from fairforget.analysis.verdicts_figure import verdict_blocks, verdicts_figure
from figure_checks import (
    data_problems,
    legend_problems,
    plotted_runs,
    text_overlaps,
    texts_outside,
)
from figure_checks import (
    objective_colours as legend_colours,
)

SETTINGS = AnalysisSettings(permutations=199)
CONFIG = {"analysis": {"permutations": 199, "seed": 0}}
# A plugin objective next to the shipped ones, three remedies (three fills), two sizes and seeds.
STUDY = SyntheticStudy(
    objectives=("none", "cda", "dropout", "unlikelihood", "my_plugin"),
    remedies=("none", "l2sp", "replay"),
    sizes=("50", "full"),
    seeds=(0, 1),
)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("style")
    paths = write_synthetic_study(root, STUDY)
    frame = read_run_table(paths.aggregate(CONFIG))
    findings = compute_findings(frame, SETTINGS)
    return frame, paths.trajectory_paths, findings


@pytest.fixture(scope="module")
def figures(study):
    """Every figure of the study, drawn once (the six of the figures rule and the verdicts figure)."""
    frame, trajectories, findings = study
    drawn = {name: make() for name, make in figure_makers(frame, trajectories, SETTINGS).items()}
    drawn["verdicts"] = verdicts_figure(verdict_blocks(findings, SETTINGS), frame.height, SETTINGS)
    yield drawn
    for fig in drawn.values():
        plt.close(fig)


@pytest.mark.parametrize("name", [*FIGURE_NAMES, "verdicts"])
def test_no_text_overlaps_or_cut_off(figures, name):
    fig = figures[name]
    problems = text_overlaps(fig) + texts_outside(fig)
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", [*FIGURE_NAMES, "verdicts"])
def test_legend_keys_have_one_meaning(figures, name):
    problems = legend_problems(figures[name])
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_plotted_runs_match_the_legend(figures, name):
    fig = figures[name]
    assert not data_problems(fig), "\n".join(data_problems(fig))
    assert plotted_runs(fig) > 0, f"{name} draws no run"


def test_one_colour_per_objective_in_every_figure(figures):
    seen: dict[str, dict[str, str]] = {}
    for name, fig in figures.items():
        for objective, colour in legend_colours(fig).items():
            seen.setdefault(objective, {})[name] = colour
    assert set(seen) == set(STUDY.objectives)
    for objective, by_figure in seen.items():
        assert len(set(by_figure.values())) == 1, f"{objective} has different colours: {by_figure}"
        assert len(by_figure) >= 5, f"{objective} is in the legends of {sorted(by_figure)} only"
    colours = [next(iter(v.values())) for v in seen.values()]
    assert len(set(colours)) == len(colours), f"two objectives share a colour: {seen}"
    assert {o: next(iter(seen[o].values())) for o in OBJECTIVE_COLOURS if o in seen} == {
        o: c.lower() for o, c in OBJECTIVE_COLOURS.items() if o in seen
    }


def test_the_checks_catch_what_they_look_for():
    """The checks fail on a figure with the faults of the old style: a legend reusing an objective's square
    marker for a model, overlapping titles, a point whose colour the legend does not give its objective."""
    fig, axes = panels(2)
    axes[0][0].set_title("a long panel title that runs into the next panel's title " * 2)
    axes[0][1].set_title("the neighbour")
    axes[0][0].plot(0, 0, marker="s", color="#ff0000", linestyle="none", gid="objective=cda;model=m")
    fig.legend(
        handles=[
            Line2D([], [], marker="s", color="black", linestyle="none", label="objective cda"),
            Line2D([], [], marker="s", color="black", linestyle="none", label="all models: model m"),
        ]
    )
    assert legend_problems(fig) and text_overlaps(fig)
    plt.close(fig)
    style = StudyStyle.for_levels(["cda", "none"], ["m"], ["none"])
    fig, axes = panels(1)
    axes[0][0].plot(0, 0, **{**style.point("cda", "m"), "color": OKABE_ITO["blue"]})
    grouped_legend(fig, style.legend_groups(["cda", "none"], ["m"]))
    assert any("colour" in p for p in data_problems(fig))
    plt.close(fig)


def test_objective_colours_are_fixed_by_name():
    shipped = objective_colours(OBJECTIVE_COLOURS)
    assert shipped == OBJECTIVE_COLOURS
    assert set(shipped.values()) <= set(OKABE_ITO.values())
    # a plugin objective added later takes a spare colour and changes no other objective's
    with_plugin = objective_colours([*OBJECTIVE_COLOURS, "my_plugin"])
    assert {o: with_plugin[o] for o in OBJECTIVE_COLOURS} == OBJECTIVE_COLOURS
    assert with_plugin["my_plugin"] not in OBJECTIVE_COLOURS.values()
    assert objective_colours(["my_plugin", "cda"])["my_plugin"] == with_plugin["my_plugin"]
    many = objective_colours([f"plugin_{i}" for i in range(12)])
    assert len(set(many.values())) == 12
    assert objective_colours(reversed(list(many))) == many


def test_axes_are_named_by_the_data_dictionary(figures):
    overall = label("overall_forgetting.mean_loss_change")
    assert (overall.name, overall.unit) == ("Overall forgetting", "nats/token")
    fig = figures["downstream_vs_overall_forgetting"]
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("Overall forgetting") and "(nats/token)" in ax.get_xlabel()
    assert ax.get_ylabel().startswith("Downstream change")
    title = fig.legends[0].get_title()
    assert "overall_forgetting.mean_loss_change" in title.get_text() and title.get_fontsize() == SMALL
    assert "downstream.mean_change" in title.get_text()


def test_verdict_blocks_carry_the_findings_numbers(study, figures):
    _, _, findings = study
    blocks = verdict_blocks(findings, SETTINGS)
    by_key = {f.key: f for f in findings}
    assert [b.key for b in blocks][:3] == ["F1", "F1 plain", "F2"]
    f2 = next(b for b in blocks if b.key == "F2")
    within = by_key["F2"].sign_test.slope.within
    assert (f2.verdict, f2.rows[0].estimate, f2.rows[0].ci) == (by_key["F2"].verdict, within.estimate, within.ci(0.05))
    f1 = blocks[0]
    b = by_key["F1"].unique.standardized()
    assert f1.rows[0].estimate == pytest.approx(b[0] + b[1]) and f1.rows[1].estimate == pytest.approx(b[0] - b[1])
    f3_rows = [row for block in blocks if block.key == "F3" for row in block.rows]
    arms = by_key["F3"].arms
    by_metric = [a for metric in dict.fromkeys(a.metric for a in arms) for a in arms if a.metric == metric]
    assert [(r.label, r.estimate) for r in f3_rows] == [(a.arm, a.estimate) for a in by_metric]
    # each F3 block states its own metric's verdict (the title carries F3's verdict over every metric)
    f3_blocks = [block for block in blocks if block.key == "F3"]
    metrics = list(dict.fromkeys(a.metric for a in arms))
    assert len(f3_blocks) == len(metrics)
    for block, metric in zip(f3_blocks, metrics):
        own, _ = remedies_verdict([a for a in arms if a.metric == metric], SETTINGS.alpha)
        assert block.extra[0].startswith(f"This metric alone: {own} "), block.extra[0]
    shown = {t.get_text() for ax in figures["verdicts"].axes for t in [ax._left_title]}
    for f in findings:
        assert f"{f.key}: {f.verdict.upper()}" in shown


def _pixels(fig) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return np.asarray(Image.open(buffer))


def test_data_size_sweep_depends_on_the_content_not_the_row_order(study):
    frame = study[0]
    first = _pixels(figure_makers(frame, [], SETTINGS)["data_size_sweep"]())
    for seed in range(3):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        again = _pixels(figure_makers(shuffled, [], SETTINGS)["data_size_sweep"]())
        assert np.array_equal(first, again), f"rows shuffled with seed {seed} draw a different figure"


def test_single_objective_and_tiny_study_render_cleanly(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy(models=("bert-tiny",), objectives=("cda",)))
    frame = read_run_table(paths.aggregate(CONFIG, summaries=False))
    drawn = {name: make() for name, make in figure_makers(frame, paths.trajectory_paths, SETTINGS).items()}
    drawn["verdicts"] = verdicts_figure(verdict_blocks(compute_findings(frame, SETTINGS), SETTINGS), 1, SETTINGS)
    for name, fig in drawn.items():
        problems = text_overlaps(fig) + texts_outside(fig) + legend_problems(fig)
        assert not problems, f"{name}:\n" + "\n".join(problems)
        plt.close(fig)

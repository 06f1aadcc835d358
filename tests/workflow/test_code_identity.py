"""Code identity through real Snakemake (slow): an edit replans exactly the jobs whose code path it is on.

The workflow is not run: every output is created empty and `snakemake --touch --forceall` records Snakemake's
metadata (params included) as a finished run would, in seconds. Then each edit is followed by a dry run.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from workflow_helpers import copy_workflow, snakemake

pytestmark = pytest.mark.slow

PLUGIN = """from typing import ClassVar

from fairforget.training.objectives._text import TextObjective
from fairforget.training.plugins import OBJECTIVES, Param


@OBJECTIVES.register("plugin_text")
class PluginText(TextObjective):
    name = "plugin_text"
    param_spec: ClassVar[dict[str, Param] | None] = {}
"""
CONFIG = ("--configfile", "config/plugin.yaml")
# the outputs are empty files, which the plan-time product checks (docs/faults.md) would rebuild: not what is tested
EMPTY_OUTPUTS = {"FAIRFORGET_VERIFY": "off"}
ANALYSIS = {"aggregate_table": 1, "findings": 1, "figures": 1, "all": 1}
# micro.yaml fuses one run (llama-tiny, cda): its fusion table is rebuilt from every new run table
FUSION_TABLE = {"fusion_table": 1}
DIRECTORY_OUTPUT = re.compile(r"/(scores|seed\d+)$|^results/models/base/[^/]+(?<!\.sha256)$")


def _plan(workdir: Path) -> tuple[dict[str, int], set[str]]:
    """Rule -> planned job count, and the objectives of the planned finetune jobs, from a dry run."""
    out = snakemake(workdir, "-n", *CONFIG, env=EMPTY_OUTPUTS)
    text = out.stdout + out.stderr
    counts: dict[str, int] = {}
    for match in re.finditer(r"^rule (\w+):", text, flags=re.MULTILINE):
        counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    counts.update({rule: 1 for rule in re.findall(r"^localrule (\w+):", text, flags=re.MULTILINE)})
    objectives = set(re.findall(r"^rule finetune:.*?objective=([\w.-]+)", text, flags=re.MULTILINE | re.DOTALL))
    return counts, objectives


@pytest.fixture(scope="module")
def touched_workflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("code-identity") / "wf")
    (workdir / "plugins").mkdir()
    (workdir / "plugins" / "plugin_objective.py").write_text(PLUGIN)  # untracked, as a user's would be
    config = yaml.safe_load((workdir / "config" / "micro.yaml").read_text())
    config["plugins"] = ["plugins/plugin_objective.py"]
    config["objectives"]["mine"] = {"type": "plugin_text"}
    (workdir / "config" / "plugin.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    summary = snakemake(workdir, "--summary", *CONFIG).stdout
    for line in summary.splitlines()[1:]:
        path = workdir / line.split("\t")[0]
        if DIRECTORY_OUTPUT.search(line.split("\t")[0]):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    snakemake(workdir, "--touch", "--forceall", "--cores", "1", *CONFIG, env=EMPTY_OUTPUTS)
    assert _plan(workdir)[0] == {}
    return workdir


def _edited(path: Path, addition: str):
    class Edit:
        def __enter__(self) -> None:
            shutil.copy2(path, path.with_suffix(".orig"))
            path.write_text(path.read_text() + addition)

        def __exit__(self, *exc: object) -> None:
            shutil.move(path.with_suffix(".orig"), path)

    return Edit()


def test_editing_a_plugin_objective_plans_only_its_jobs(touched_workflow: Path) -> None:
    plugin = touched_workflow / "plugins" / "plugin_objective.py"
    with _edited(plugin, "# a comment changes no code\n"):
        assert _plan(touched_workflow)[0] == {}
    with _edited(plugin, "\n\ndef reversed_words(text: str) -> str:\n    return ' '.join(text.split()[::-1])\n"):
        counts, objectives = _plan(touched_workflow)
    # its two runs (one per toy model), their evaluations (with their downstream tasks: a CPU study), and the
    # analysis that reads them
    assert counts == {"finetune": 2, "evaluate_checkpoint": 2, **ANALYSIS, **FUSION_TABLE}
    assert objectives == {"mine"}


def test_an_unrelated_module_plans_nothing_a_metric_only_evaluations(touched_workflow: Path) -> None:
    src = touched_workflow / "src" / "fairforget"
    # a module no stage imports, and one the evaluations import but the rule leaves out (the store's gc)
    with _edited(src / "workflow" / "rulegraph.py", "\n\nUNUSED = 1\n"), _edited(src / "store" / "gc.py", "\nX = 1\n"):
        assert _plan(touched_workflow)[0] == {}
    with _edited(src / "metrics" / "stereoset.py", "\n\ndef _unused() -> int:\n    return 1\n"):
        counts, _ = _plan(touched_workflow)
    # no data, base model, training or downstream job: the checkpoints stay
    # (and the fused checkpoint's evaluation: the same evaluation code)
    assert counts == {"evaluate_base": 2, "evaluate_checkpoint": 6, "evaluate_fused": 1, **ANALYSIS, **FUSION_TABLE}


def test_changing_an_objectives_params_in_the_config_plans_its_runs(touched_workflow: Path) -> None:
    """Not code, but the same kind of staleness: the finetune job's JSON is a function of its input/output
    paths, which Snakemake does not compare, so its settings are a param of their own."""
    config_file = touched_workflow / "config" / "plugin.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["objectives"]["cda"]["params"]["sided"] = "one"
    with _edited(config_file, ""):
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        counts, objectives = _plan(touched_workflow)
    # the fused cda checkpoint is fused again from the new one, and evaluated
    fused = {"fuse": 1, "evaluate_fused": 1, **FUSION_TABLE}
    assert counts == {"finetune": 2, "evaluate_checkpoint": 2, **ANALYSIS, **fused}
    assert objectives == {"cda"}


def test_moving_the_fused_templates_into_paths_plans_nothing(touched_workflow: Path) -> None:
    """Constants count by value where code uses them (code_identity): the fused checkpoints' templates moved
    from fairforget/fusion/settings.py into paths.py (on every job's code path) leave every job as it is; a new template
    that no code uses too."""
    src = touched_workflow / "src" / "fairforget"
    fusion, layout = src / "fusion" / "settings.py", src / "paths.py"
    original = fusion.read_text()
    lines = original.splitlines(keepends=True)
    moved = [line for line in lines if re.match(r"(FUSED_\w+|EVAL_FUSED\w*|DOWNSTREAM_FUSED) = ", line)]
    assert len(moved) == 6
    names = [line.split(" = ")[0] for line in moved]
    kept = "".join(line for line in lines if line not in moved)
    import_line = f"from fairforget.paths import {', '.join(names)}\n"
    with _edited(layout, "\n" + "".join(moved).replace("paths.", "")), _edited(fusion, ""):
        fusion.write_text(
            kept.replace("from fairforget import paths\n", "from fairforget import paths\n" + import_line)
        )
        assert _plan(touched_workflow)[0] == {}
    with _edited(layout, '\nNEW_PRODUCT = "new/{model}.json"\n'):
        assert _plan(touched_workflow)[0] == {}

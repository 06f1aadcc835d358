"""The `learned` tests once more on torch's portable CPU kernel path (ATEN_CPU_CAPABILITY=default).

What a trained model learns depends on the floating-point path its kernels take (default / avx2 / avx512 ...),
so a threshold that holds on one path only would pass on the developer's machine and fail on the next. The
README's test command runs every test on the machine's native path; this test reruns the `learned` tests that
this session selected in a subprocess on the default path, so both paths are exercised by the one command. Tests
whose outcomes were measured identical on the three paths (`learned(same_on_kernel_paths=True)`: the downstream
protocol, the unlikelihood step, the causal toy of the micro study) are not rerun: a rerun of them could not fail,
and leaving the causal toy out halves the rerun's micro study (`micro_kinds`, conftest.py).
Skipped when the native path already is default, and inside the rerun itself. Marked `slow`: the fast tier
(`-m "not slow"`, the edit-test loop) leaves this second pass to the README's test command, which runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
RERUN = "FAIRFORGET_LEARNED_RERUN"


def plain_nodeid(item: pytest.Item) -> str:
    """The test's node id without the `@group` suffix that xdist's loadgroup adds (conftest groups the tests sharing
    a study), i.e. what `pytest NODEID` accepts."""
    mark = item.get_closest_marker("xdist_group")
    return item.nodeid.removesuffix(f"@{mark.args[0]}") if mark else item.nodeid


def learned_tests(session: pytest.Session) -> list[str]:
    """The session's `learned` tests whose outcomes depend on the kernel path: those marked
    `learned(same_on_kernel_paths=True)` gave the same values on the default, avx2 and avx512 paths (measured, written
    beside them), so their rerun could not fail; they run on the native path only."""
    return [
        plain_nodeid(item)
        for item in session.items
        if (mark := item.get_closest_marker("learned")) is not None and not mark.kwargs.get("same_on_kernel_paths")
    ]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get(RERUN) == "1", reason="this is the rerun on the default kernel path")
def test_learned_tests_pass_on_the_default_kernel_path(request: pytest.FixtureRequest) -> None:
    native = torch.backends.cpu.get_cpu_capability()
    if native == "DEFAULT":
        pytest.skip("the native kernel path already is default: the session itself ran the learned tests on it")
    selected = learned_tests(request.session)
    if not selected:
        pytest.skip("no learned test is selected in this session")
    # not an xdist worker's environment: the rerun is a plain pytest process of its own
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env.update({"ATEN_CPU_CAPABILITY": "default", RERUN: "1"})
    # one process (addopts' -n 2 left out); the import mode kept: test basenames repeat (pyproject.toml)
    options = ["-q", "-p", "no:cacheprovider", "-o", "addopts=-ra", "--import-mode=importlib"]
    command = [sys.executable, "-m", "pytest", *options, *selected]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    print(f"native kernel path {native}; rerun of {len(selected)} learned test(s) on the default path:")
    print(result.stdout[-3000:])
    assert result.returncode == 0, (
        f"learned tests fail on ATEN_CPU_CAPABILITY=default (native: {native}):\n"
        f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    )
    # the rerun really ran on the default path
    probe = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "DEFAULT"


def test_the_rerun_leaves_out_only_the_tests_measured_the_same_on_every_path() -> None:
    """Which tests the rerun selects (`learned_tests`), and which micro study kinds `micro_evaluations` builds for
    them (conftest.micro_kinds_read), on stand-in items."""
    from types import SimpleNamespace

    from conftest import micro_kinds_read

    def item(nodeid: str, *marks, fixtures=("micro_evaluations",)) -> SimpleNamespace:
        by_name = {mark.name: mark for mark in marks}
        return SimpleNamespace(nodeid=nodeid, fixturenames=list(fixtures), get_closest_marker=by_name.get)

    masked = item("t.py::masked", pytest.mark.learned.mark, pytest.mark.micro_kinds("masked").mark)
    causal = item(
        "t.py::causal", pytest.mark.learned(same_on_kernel_paths=True).mark, pytest.mark.micro_kinds("causal").mark
    )
    plain = item("t.py::plain", fixtures=())
    unmarked = item("t.py::unmarked", pytest.mark.learned.mark)
    assert learned_tests(SimpleNamespace(items=[masked, causal, plain, unmarked])) == ["t.py::masked", "t.py::unmarked"]
    assert micro_kinds_read([masked, plain]) == {"masked"}
    assert micro_kinds_read([masked, causal]) == {"masked", "causal"}
    assert micro_kinds_read([masked, unmarked]) == {"masked", "causal"}  # a test without the mark may read any

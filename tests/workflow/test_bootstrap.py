"""workflow_scripts/_bootstrap.py: the first import of every rule script puts ../src first on sys.path and makes
idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE) unless the user chose a policy; run in a fresh interpreter
each, since the policy only matters before torch is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow_scripts"
SHOW = (
    "import os, sys; sys.path.insert(0, sys.argv[1]); import _bootstrap; "
    "print(os.environ.get('OMP_WAIT_POLICY')); print(sys.path[0])"
)


def run_bootstrap(policy: str | None) -> list[str]:
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    result = subprocess.run(
        [sys.executable, "-c", SHOW, str(SCRIPTS)], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


def test_bootstrap_sets_passive_wait_and_puts_src_first():
    policy, first_path = run_bootstrap(None)
    assert policy == "PASSIVE"
    assert first_path == str(SCRIPTS.parent / "src")


def test_bootstrap_keeps_a_policy_the_user_set():
    assert run_bootstrap("ACTIVE")[0] == "ACTIVE"

"""`fairforget plan` (fairforget.cli.plan): the paper grid's fine-tuning cost and the source of its throughput."""

from __future__ import annotations

from fairforget.cli import main
from workflow_helpers import REPO


def test_plan_command_names_its_throughput_source(capsys) -> None:
    paper = str(REPO / "config" / "paper.yaml")
    assert main(["plan", "--configfile", paper, "--base-dir", str(REPO)]) == 0
    out = capsys.readouterr().out
    assert "finetune" in out and "540" in out and "6 N tokens" in out and "GPU rate measured" in out
    assert main(["plan", "--configfile", paper, "--base-dir", str(REPO), "--mfu", "0.4"]) == 0
    assert "assumed: 312 TFLOP/s peak x 40% MFU" in capsys.readouterr().out

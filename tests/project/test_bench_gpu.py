"""Smoke test of benchmarks/bench_gpu.py on CPU (--tiny), in a subprocess where polars cannot be imported:
the GPU benchmark must run on a node that has only torch, transformers and accelerate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_gpu_tiny_runs_on_cpu_without_polars(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "polars.py").write_text("raise ImportError('polars is blocked: bench_gpu must not need it')\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT / "src")]),
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    out = tmp_path / "out"
    # baseline and the cumulative last variant: together they exercise fp32/eager/foreach and
    # bf16/sdpa/fused/length grouping
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_gpu.py"),
            "--tiny",
            "--device",
            "cpu",
            "--steps",
            "1",
            "--variants",
            "baseline,grouped,packed",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "bench_gpu.json").read_text())
    rows = {(r["model"], r["variant"]): r for r in report["rows"]}
    assert set(rows) == {(m, v) for m in ("bert-tiny", "llama-tiny") for v in ("baseline", "grouped", "packed")}
    for model in ("bert-tiny", "llama-tiny"):
        base, grouped = rows[model, "baseline"], rows[model, "grouped"]
        assert (base["attn_used"], base["optimizer_used"], base["mixed_precision"]) == ("eager", "foreach", "no")
        assert (grouped["attn_used"], grouped["optimizer_used"], grouped["mixed_precision"]) == (
            "sdpa",
            "fused",
            "bf16",
        )
        assert base["ratio_vs_baseline"] == 1.0
        assert rows[model, "packed"]["tokens"] == rows[model, "packed"]["padded_tokens"]  # full blocks, no padding
        for row in (base, grouped):
            assert row["tokens"] > 0 and row["tokens_per_second"] > 0 and 0 < row["mfu"] < 1
        # same seeded data: grouping must cut the padding of the timed batch
        assert grouped["padded_tokens"] - grouped["tokens"] < base["padded_tokens"] - base["tokens"]
    assert "| llama-tiny | grouped |" in (out / "bench_gpu.md").read_text()

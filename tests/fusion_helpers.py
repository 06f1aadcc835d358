"""A fusion table and run table with a known path, for the fusion unit tests (tests/unit/fusion/). Holds no tests
itself."""

from __future__ import annotations

import polars as pl

from fairforget.fusion.table import ALPHA


def fusion_frames(units: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A run table and a fusion table with a known path: forgetting linear in alpha (0.1 alpha), bias
    |preference - 50| from 40 at the base down to 10 at alpha = 1, with a convex path (most of the reduction
    by alpha = 0.5); remedy l2sp forgets 0.08 with a distance of 20."""
    f, dist = "overall_forgetting.mean_loss_change", "planted.stereo_preference"
    runs, fused = [], []
    path = {0.0: (0.0, 90.0), 0.5: (0.05, 65.0), 1.0: (0.1, 60.0)}
    for unit in range(units):
        common = {"model": f"m{unit}", "objective": "cda", "size": "full", "seed": 0, f"{dist}.base": 90.0}
        jitter = 0.001 * unit
        runs.append({**common, "remedy": "none", f: 0.1 + jitter, dist: 60.0, "downstream.mean_change": -0.02})
        runs.append({**common, "remedy": "l2sp", f: 0.08 + jitter, dist: 70.0, "downstream.mean_change": -0.01})
        for alpha, (forgetting, value) in path.items():
            fused.append(
                {
                    **common,
                    "remedy": "none",
                    ALPHA: alpha,
                    f: forgetting + jitter * alpha,
                    dist: value,
                    "downstream.mean_change": -0.02 * alpha,
                }
            )
    return pl.DataFrame(fused), pl.DataFrame(runs)

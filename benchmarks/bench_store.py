"""Time the result store: write (miss), verified read (hit), `verify` and `gc` scans.

    python benchmarks/bench_store.py [--entries 200] [--items 2000] [--store DIR]

Each entry holds a result with `--items` floats (a downstream result with per-example predictions is a few
thousand). Prints median milliseconds per operation; the store dir is a temporary one unless given (point it
at the cluster's shared scratch to measure NFS).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from fairforget.store import ResultStore, collect_garbage


def _median_ms(samples: list[float]) -> float:
    return 1000.0 * statistics.median(samples)


def run(root: Path, entries: int, items: int) -> dict[str, float]:
    store = ResultStore(root)
    rng = random.Random(0)
    keys = [store.key("0" * 64, "bench", {"i": i}, seed=0) for i in range(entries)]
    results = [{"values": [rng.random() for _ in range(items)]} for _ in range(entries)]
    misses, hits = [], []
    for key, result in zip(keys, results, strict=True):
        started = time.perf_counter()
        store.get_or_compute(key, lambda result=result: result)
        misses.append(time.perf_counter() - started)
    for key in keys:
        started = time.perf_counter()
        _, hit = store.get_or_compute(key, lambda: {})
        hits.append(time.perf_counter() - started)
        assert hit
    started = time.perf_counter()
    assert store.verify() == []
    verify_s = time.perf_counter() - started
    results_dir = root / "results"
    results_dir.mkdir()
    started = time.perf_counter()
    collect_garbage(store, [results_dir], delete=False, min_age_s=0)
    gc_s = time.perf_counter() - started
    return {
        "miss_ms": _median_ms(misses),
        "hit_ms": _median_ms(hits),
        "verify_ms_per_entry": 1000.0 * verify_s / entries,
        "gc_dry_run_ms_per_entry": 1000.0 * gc_s / entries,
        "entry_kib": store.path(keys[0]).stat().st_size / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--store", type=Path, help="store dir (default: a fresh temporary dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.store) as tmp:
        timings = run(Path(tmp), args.entries, args.items)
    for name, value in timings.items():
        print(f"{name:>24}: {value:.3f}")


if __name__ == "__main__":
    main()

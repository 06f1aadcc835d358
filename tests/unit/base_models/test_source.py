"""The model-source interface (fairforget.base_models.source): the built-in sources are discovered by name, each
declares what the config check and the rules read, and a source must implement `build`."""

from __future__ import annotations

import pytest

from fairforget.base_models.source import MODEL_SOURCES, ModelSource
from fairforget.errors import ConfigError


def test_the_builtin_sources_are_discovered() -> None:
    assert MODEL_SOURCES.names() == ["gguf", "hub", "local", "toy"]
    with pytest.raises(ConfigError, match="unknown model source 'hf'; allowed: gguf, hub, local, toy"):
        MODEL_SOURCES.get("hf")


def test_what_each_source_declares() -> None:
    toy, hub, local, gguf = (MODEL_SOURCES.get(name) for name in ("toy", "hub", "local", "gguf"))
    # a toy model trains on the study's own text and is probed with the planted pairs; pretrained ones with WinoBias
    assert toy.uses_pretraining_text and toy.probe_pair_set == "planted"
    assert not hub.uses_pretraining_text and hub.probe_pair_set == local.probe_pair_set == "winobias"
    assert hub.required_keys == ("hub_id",) and local.required_keys == ("local_path",)
    assert gguf.required_keys == ("gguf_file",)
    assert toy.threads == 1 and ModelSource.threads == 4  # tiny models train fastest on one thread


def test_a_source_without_build_cannot_be_made() -> None:
    class Incomplete(ModelSource):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]
    assert ModelSource.check_environment("m", {}) is None  # the default checks nothing

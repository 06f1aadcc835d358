"""Provenance records (fairforget.provenance.record): the git version outside a repository, embedded facts."""

from __future__ import annotations

from fairforget.provenance.record import git_version


def test_git_version_outside_a_repository(tmp_path):
    version = git_version(tmp_path)
    assert version["commit"] is None and version["reason"]


def test_embedded_facts_digest_many_checkpoints():
    from fairforget.provenance.record import embedded_facts

    record = {
        "rule": "figures",
        "config_hash": "c",
        "inputs": [],
        "created": "now",
        "code_version": {"commit": None, "dirty": None, "reason": "not a git repository"},
        "checkpoint_hashes": [f"{i:064x}" for i in range(60)],
    }
    facts = embedded_facts(record, "x.provenance.json")
    assert facts["fairforget.checkpoint_hashes"].startswith("60 hashes, sha256 of sorted list ")
    assert facts["fairforget.code_version"] == "unknown (not a git repository)"

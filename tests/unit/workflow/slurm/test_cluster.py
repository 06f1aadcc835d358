"""Parsing sinfo/scontrol output (fairforget.workflow.slurm.cluster) on captured text."""

from __future__ import annotations

from collections.abc import Sequence
from math import inf

import pytest

from fairforget.workflow.slurm.cluster import (
    SINFO,
    Cluster,
    SlurmCheckError,
    gres_gpus,
    group_cpus,
    parse_partitions,
    parse_sinfo,
    slurm_minutes,
)
from slurm_captures import CI_PARTITIONS, CI_SINFO, SITE_PARTITIONS, SITE_SINFO, site_cluster


@pytest.fixture
def site() -> Cluster:
    return site_cluster()


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("UNLIMITED", inf),
        ("60", 60),
        ("30:00", 30),
        ("2:00:00", 120),
        ("1-00:00:00", 1440),
        ("2-12", 3600),
        ("1-02:30", 1590),
        ("00:90:30", 90.5),
    ],
)
def test_slurm_time_limits(text: str, minutes: float) -> None:
    assert slurm_minutes(text) == minutes


def test_gres_counts_gpus_only() -> None:
    assert gres_gpus("gpu:a100:4(S:0-1)") == 4
    assert gres_gpus("gpu:v100:2,craynetwork:4") == 2
    assert gres_gpus("gpu:2") == 2 and gres_gpus("gpu") == 1 and gres_gpus("") == 0


def test_ci_cluster_text() -> None:
    (node,) = parse_sinfo(CI_SINFO)
    assert (node.name, node.partitions, node.cpus, node.mem_mb, node.gpus) == ("localhost", ("ci",), 2, 19284, 2)
    assert node.features == ()
    partition = parse_partitions(CI_PARTITIONS)["ci"]
    assert partition.default and partition.max_time_min == inf and partition.max_cpus_per_node == inf


def test_site_cluster_text_merges_partitions_of_a_node(site: Cluster) -> None:
    nodes = {node.name: node for node in site.nodes}
    assert nodes["g01"].partitions == ("cpu", "gpu") and nodes["g01"].gpus == 4
    assert nodes["c02"].mem_mb == 256000 and nodes["c01"].features == ("skylake", "ib")
    assert site.default_partition() == "cpu"
    assert site.partitions["gpu"].max_time_min == 720 and site.partitions["gpu"].max_mem_per_node_mb == 256000
    with pytest.raises(SlurmCheckError, match="line 1"):
        parse_sinfo("c01|cpu|48\n")


def test_group_cpus_is_the_smallest_node_of_the_partition() -> None:
    def run(command: Sequence[str]) -> str:
        return SITE_SINFO if tuple(command) == SINFO else SITE_PARTITIONS

    assert group_cpus("gpu", run) == 16 and group_cpus(None, run) == 32

    def no_cluster(command: Sequence[str]) -> str:
        raise SlurmCheckError("sinfo: command not found")

    assert group_cpus(None, no_cluster) == 2

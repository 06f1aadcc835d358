"""The cluster as `sinfo` and `scontrol` describe it: nodes, partitions, their parsers (tested on captured
output), and the CPUs of one group job (`group_cpus`, read by slurm_profile/config.yaml)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import inf

SINFO = ("sinfo", "-N", "-h", "-o", "%N|%P|%c|%m|%G|%f|%t")
SCONTROL_PARTITIONS = ("scontrol", "show", "partition", "-o")
IGNORED_GRES = {"", "(null)"}


class SlurmCheckError(RuntimeError):
    """A job that no node of its partition can ever run; the message names rule, request and largest node."""


@dataclass(frozen=True)
class Node:
    name: str
    partitions: tuple[str, ...]
    cpus: int
    mem_mb: int
    gpus: int
    features: tuple[str, ...]
    state: str

    def describe(self) -> str:
        gpus = f", {self.gpus} GPUs" if self.gpus else ""
        return f"{self.name} ({self.cpus} CPUs, {self.mem_mb} MB{gpus})"


@dataclass(frozen=True)
class Partition:
    name: str
    default: bool = False
    state: str = "UP"
    max_time_min: float = inf
    max_cpus_per_node: float = inf
    max_mem_per_node_mb: float = inf


@dataclass
class Cluster:
    nodes: list[Node]
    partitions: dict[str, Partition]

    def default_partition(self) -> str | None:
        return next((name for name, p in self.partitions.items() if p.default), None)

    def nodes_of(self, partition: str) -> list[Node]:
        return [node for node in self.nodes if partition in node.partitions]


# ------------------------------------------------------------------------------------------------- parsing


def slurm_minutes(text: str) -> float:
    """A SLURM time limit in minutes: UNLIMITED/INFINITE, MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS."""
    text = text.strip()
    if text.upper() in ("UNLIMITED", "INFINITE", "NONE", ""):
        return inf
    days = 0
    if "-" in text:
        day_text, text = text.split("-", 1)
        days = int(day_text)
        fields = [int(x) for x in text.split(":")]
        hours, minutes, seconds = (fields + [0, 0, 0])[:3]
    else:
        fields = [int(x) for x in text.split(":")]
        if len(fields) == 1:
            hours, minutes, seconds = 0, fields[0], 0
        elif len(fields) == 2:
            hours, minutes, seconds = 0, fields[0], fields[1]
        else:
            hours, minutes, seconds = fields[:3]
    return days * 1440 + hours * 60 + minutes + seconds / 60


def gres_gpus(gres: str) -> int:
    """GPUs in a GRES string: `gpu:a100:4(S:0-1)`, `gpu:2`, `gpu:fake:2,craynetwork:1` -> 4, 2, 2."""
    total = 0
    for item in re.sub(r"\([^)]*\)", "", gres or "").split(","):
        parts = item.strip().split(":")
        if parts[0] != "gpu":
            continue
        count = parts[-1] if len(parts) > 1 else "1"
        total += int(count) if count.isdigit() else 1
    return total


def parse_sinfo(text: str) -> list[Node]:
    """Nodes from `sinfo -N -h -o "%N|%P|%c|%m|%G|%f|%t"` (one line per node and partition; merged)."""
    merged: dict[str, Node] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 7:
            raise SlurmCheckError(f"sinfo output line {number}: expected 7 '|'-separated fields: {line!r}")
        name, partition, cpus, mem, gres, features, state = (f.strip() for f in fields)
        partition = partition.rstrip("*")
        node = merged.get(name)
        if node is not None:
            if partition not in node.partitions:
                merged[name] = Node(**{**node.__dict__, "partitions": (*node.partitions, partition)})
            continue
        merged[name] = Node(
            name=name,
            partitions=(partition,),
            cpus=int(cpus.rstrip("+")),
            mem_mb=int(mem.rstrip("+")),
            gpus=gres_gpus("" if gres in IGNORED_GRES else gres),
            features=tuple(f for f in features.split(",") if f and f != "(null)"),
            state=state,
        )
    return list(merged.values())


def _limit(value: str | None, parse: Callable[[str], float] = float) -> float:
    if value is None or value.upper() in ("UNLIMITED", "INFINITE", "NONE"):
        return inf
    return parse(value)


def parse_partitions(text: str) -> dict[str, Partition]:
    """Partitions from `scontrol show partition -o` (one `Key=Value ...` line per partition)."""
    partitions: dict[str, Partition] = {}
    for line in text.splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        name = fields.get("PartitionName")
        if not name:
            continue
        partitions[name] = Partition(
            name=name,
            default=fields.get("Default", "NO").upper() == "YES",
            state=fields.get("State", "UP"),
            max_time_min=_limit(fields.get("MaxTime"), slurm_minutes),
            max_cpus_per_node=_limit(fields.get("MaxCPUsPerNode")),
            max_mem_per_node_mb=_limit(fields.get("MaxMemPerNode")),
        )
    return partitions


def run_command(command: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        raise SlurmCheckError(f"`{' '.join(command)}` failed: {err}") from err
    if done.returncode != 0:
        raise SlurmCheckError(f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def cluster(run: Callable[[Sequence[str]], str] = run_command) -> Cluster:
    """The cluster as `sinfo` and `scontrol` describe it now."""
    return Cluster(nodes=parse_sinfo(run(SINFO)), partitions=parse_partitions(run(SCONTROL_PARTITIONS)))


def group_cpus(partition: str | None, run: Callable[[Sequence[str]], str] = run_command, fallback: int = 2) -> int:
    """CPUs of one group job: the smallest node of `partition` (the default one when None), so a group job
    fits on any of its nodes; `fallback` when sinfo cannot answer (e.g. planning away from the cluster)."""
    try:
        state = cluster(run)
    except SlurmCheckError:
        return fallback
    nodes = state.nodes_of(partition or state.default_partition() or "")
    return min((node.cpus for node in nodes), default=fallback)

"""SLURM jobs that can never start, caught before and during a run (docs/slurm.md, "Pre-flight check").

- `cluster`: the nodes (`sinfo -N`) and partitions (`scontrol show partition -o`) as the commands describe them
  (the parsers take the commands' text, so they are tested on captured output), and `group_cpus`, which sizes the
  profile's `cores:` (the CPUs of one group job) to the partition's smallest node.
- `preflight`: what each job or group job that will run asks for (CPUs, memory, GPUs, time, partition), compared
  with the partition's nodes and limits; the Snakefile's `onstart` runs it under the SLURM executor before
  anything is submitted and names, per request no node can take, the rule, the request (and the variable that
  set it) and the largest node of the partition.
- `watch`: `PendingWatch` polls `squeue` during the run and reports jobs pending for a reason that will not clear
  by itself (`PartitionConfig`, `BadConstraints`, per-job QOS/association limits); such jobs are cancelled after
  a grace period and not resubmitted, so the run ends with an error naming them instead of waiting forever.
- `patch`: the runtime patch of snakemake-executor-plugin-slurm's status query (a `scancel`ed job fails).
"""

"""Captured SLURM command output for the unit tests of fairforget.workflow.slurm (tests/unit/workflow/slurm/): the
CI cluster's (.ci/slurm_ci.sh, SLURM 22.05) and a heterogeneous GPU cluster's. Holds no tests itself."""

from fairforget.workflow.slurm.cluster import Cluster, parse_partitions, parse_sinfo

# captured from the CI cluster: `sinfo -N -h -o "%N|%P|%c|%m|%G|%f|%t"` and `scontrol show partition -o`
CI_SINFO = "localhost|ci*|2|19284|gpu:fake:2|(null)|idle\n"


CI_PARTITIONS = (
    "PartitionName=ci AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=YES QoS=N/A "
    "DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED "
    "MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=localhost PriorityJobFactor=1 "
    "PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP "
    "TotalCPUs=2 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED "
    "MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=19284M,node=1,billing=2,gres/gpu=2\n"
)


# a site with a CPU and a GPU partition; node g01 is in both, sinfo lists it once per partition
SITE_SINFO = """c01|cpu*|48|192000|(null)|skylake,ib|mix
c02|cpu*|64|256000+|(null)|icelake,ib|idle
g01|cpu*|32|512000|gpu:a100:4(S:0-1)|icelake|mix
g01|gpu|32|512000|gpu:a100:4(S:0-1)|icelake|mix
g02|gpu|16|128000|gpu:v100:2,craynetwork:4|cascade|drain
"""


SITE_PARTITIONS = (
    "PartitionName=cpu Default=YES MaxTime=2-00:00:00 MaxCPUsPerNode=UNLIMITED MaxMemPerNode=UNLIMITED State=UP"
    " Nodes=c[01-02],g01\n"
    "PartitionName=gpu Default=NO MaxTime=12:00:00 MaxCPUsPerNode=24 MaxMemPerNode=256000 State=UP Nodes=g[01-02]\n"
)


# captured: `squeue --me -h -t PENDING -o "%i|%T|%r|%k|%Z"` with one impossible job and one waiting its turn
SQUEUE_TEXT = """27|PENDING|PartitionConfig|rule_prep_wildcards_|/work/study
28|PENDING|Resources|rule_finetune_wildcards_bert|/work/study
29|PENDING|AssocMaxJobsLimit|rule_evaluate_base_wildcards_bert|/work/study
30|PENDING|PartitionConfig|(null)|/elsewhere
"""


def ci_cluster() -> Cluster:
    return Cluster(nodes=parse_sinfo(CI_SINFO), partitions=parse_partitions(CI_PARTITIONS))


def site_cluster() -> Cluster:
    return Cluster(nodes=parse_sinfo(SITE_SINFO), partitions=parse_partitions(SITE_PARTITIONS))

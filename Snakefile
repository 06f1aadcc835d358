# fairforget: why does debiasing a language model cost downstream performance?
# `snakemake --cores 2` runs the embedded toy study (config/config.yaml);
# `snakemake --profile slurm_profile` runs the paper-scale study on a SLURM GPU cluster.
from snakemake.utils import min_version, validate

min_version("9.0")


# Each config file is complete: `--configfile config/paper.yaml` replaces the toy default rather than being
# merged into it (a merge would keep the toy models in the paper grid).
if "study" not in config:

    configfile: "config/config.yaml"


# config/schema.yaml is the reference of every key; validation sets the defaults of the keys left out.
validate(config, "config/schema.yaml", set_default=True)


# The front page of `snakemake --report report.html`.
report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/base_models.smk"
include: "rules/finetune.smk"
include: "rules/evaluate.smk"
include: "rules/downstream.smk"
include: "rules/fusion.smk"
include: "rules/analysis.smk"


# A missing or corrupt product that later ones were made from is rebuilt (docs/faults.md).
force_stale_products(workflow)


# Under the SLURM profile: the pre-flight check and the watch on never-starting jobs (docs/slurm.md).
onstart:
    slurm_onstart(workflow)


rule all:
    default_target: True
    input:
        final_outputs(),
        LEAKAGE_CARD,

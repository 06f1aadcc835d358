"""Support for the Snakemake layer (Snakefile, rules/*.smk, workflow_scripts/): parse-time caching and the rule
scripts' logging set-up. Stage logic lives in the stage packages, never here."""

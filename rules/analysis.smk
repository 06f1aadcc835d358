# Stage 6: tidy table, findings and figures, each with a provenance sidecar (fairforget.provenance).
# `snakemake --report report.zip` collects the report() outputs below with the captions in report/.


rule aggregate_table:
    input:
        evals=eval_results(),
        downstream=downstream_results(),
        trajectories=run_paths("{R}/training/{RUN}/trajectory.parquet"),
        # each run's number of debiasing texts: the numeric data size of `full` for the "more data" test
        summaries=run_paths("{R}/training/{RUN}/train_summary.json"),
        meta=expand(f"{R}/data/downstream/{{task}}/meta.json", task=TASKS),
        model_sidecars=[f"{R}/models/base/{model}.sha256" for model in config["models"]]
        + run_paths("{R}/models/finetuned/{RUN}.sha256"),
    output:
        parquet=f"{R}/tables/runs.parquet",
        csv=report(
            f"{R}/tables/runs.csv",
            caption="../report/runs_table.rst",
            category="Tables",
            labels={"table": "runs"},
        ),
        dictionary=report(
            f"{R}/tables/data_dictionary.md",
            caption="../report/data_dictionary.rst",
            category="Tables",
            labels={"table": "data dictionary"},
        ),
        provenance=f"{R}/tables/runs.provenance.json",
    params:
        code_root=workflow.basedir,
        n_runs=len(RUNS),
        models=", ".join(config["models"]),
    log:
        f"{R}/logs/aggregate_table/aggregate_table.log",
    benchmark:
        f"{R}/benchmarks/aggregate_table/aggregate_table.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENV
    script:
        "../workflow_scripts/analysis_table.py"


rule findings:
    input:
        table=f"{R}/tables/runs.parquet",
        table_provenance=f"{R}/tables/runs.provenance.json",
    output:
        findings=report(
            f"{R}/findings.md",
            caption="../report/findings.rst",
            category="Tables",
            labels={"table": "findings"},
        ),
        provenance=f"{R}/findings.provenance.json",
    params:
        code_root=workflow.basedir,
        n_runs=len(RUNS),
        models=", ".join(config["models"]),
    log:
        f"{R}/logs/findings/findings.log",
    benchmark:
        f"{R}/benchmarks/findings/findings.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENV
    script:
        "../workflow_scripts/analysis_findings.py"


rule figures:
    input:
        table=f"{R}/tables/runs.parquet",
        table_provenance=f"{R}/tables/runs.provenance.json",
        trajectories=run_paths("{R}/training/{RUN}/trajectory.parquet"),
    output:
        png=[
            report(
                f"{R}/figures/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
                labels={"figure": name},
            )
            for name in FIGURES
        ],
        pdf=[f"{R}/figures/{name}.pdf" for name in FIGURES],
        provenance=[f"{R}/figures/{name}.provenance.json" for name in FIGURES],
    params:
        out_dir=lambda wildcards, output: str(Path(output.pdf[0]).parent),
        code_root=workflow.basedir,
        n_runs=len(RUNS),
        models=", ".join(config["models"]),
    log:
        f"{R}/logs/figures/figures.log",
    benchmark:
        f"{R}/benchmarks/figures/figures.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        ENV
    script:
        "../workflow_scripts/analysis_figures.py"

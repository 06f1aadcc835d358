# Stage 6: tidy table, findings and figures, each with a provenance sidecar (fairforget.provenance).
# `snakemake --report report.zip` collects the report() outputs below with the captions in report/.


include: "inputs/analysis.smk"


rule aggregate_table:
    input:
        evals=eval_results(),
        downstream=downstream_results(),
        trajectories=run_paths(paths.TRAJECTORY),
        # each run's number of debiasing texts: the numeric data size of `full` for the "more data" test
        summaries=run_paths(paths.TRAIN_SUMMARY),
        meta=[result(paths.DOWNSTREAM_META, task=task) for task in TASKS],
        model_sidecars=model_sidecars(),
    output:
        parquet=result(paths.TABLE_PARQUET),
        csv=report(
            result(paths.TABLE_CSV),
            caption="../report/runs_table.rst",
            category="Tables",
            labels={"table": REPORT_LABELS["runs"]},
        ),
        dictionary=report(
            result(paths.DATA_DICTIONARY),
            caption="../report/data_dictionary.rst",
            category="Tables",
            labels={"table": REPORT_LABELS["data dictionary"]},
        ),
        provenance=result(paths.TABLE_PROVENANCE),
    log:
        log_of("aggregate_table", "aggregate_table"),
    benchmark:
        benchmark_of("aggregate_table", "aggregate_table")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code_root=WORKFLOW_ROOT,
        code=CODE["analysis"],
        n_runs=len(RUNS),
        models=", ".join(config["models"]),
    script:
        "../workflow_scripts/aggregate_table.py"


rule findings:
    input:
        table=result(paths.TABLE_PARQUET),
        table_provenance=result(paths.TABLE_PROVENANCE),
        fusion=fusion_table_input(),  # rules/fusion.smk; none when nothing is fused
    output:
        findings=report(
            result(paths.FINDINGS),
            caption="../report/findings.rst",
            category="Tables",
            labels={"table": REPORT_LABELS["findings"]},
        ),
        provenance=result(paths.FINDINGS_PROVENANCE),
        # the verdicts figure, drawn from the same findings
        verdicts=report(
            result(paths.FIGURE, name=VERDICTS, ext="png"),
            caption="../report/verdicts.rst",
            category="Figures",
            labels={"figure": REPORT_LABELS[VERDICTS]},
        ),
        verdicts_pdf=result(paths.FIGURE, name=VERDICTS, ext="pdf"),
        verdicts_provenance=result(paths.FIGURE_PROVENANCE, name=VERDICTS),
    log:
        log_of("findings", "findings"),
    benchmark:
        benchmark_of("findings", "findings")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        figures_dir=lambda wildcards, output: str(Path(output.verdicts_pdf).parent),
        code_root=WORKFLOW_ROOT,
        code=CODE["analysis"],
        n_runs=len(RUNS),
        models=", ".join(config["models"]),
    script:
        "../workflow_scripts/findings.py"


rule figures:
    input:
        table=result(paths.TABLE_PARQUET),
        table_provenance=result(paths.TABLE_PROVENANCE),
        fusion=fusion_table_input(),  # rules/fusion.smk; none when nothing is fused
        trajectories=run_paths(paths.TRAJECTORY),
    output:
        png=[
            report(
                result(paths.FIGURE, name=name, ext="png"),
                caption=f"../report/{name}.rst",
                category="Figures",
                labels={"figure": REPORT_LABELS[name]},
            )
            for name in FIGURES
        ],
        pdf=figure_files("pdf"),
        provenance=[result(paths.FIGURE_PROVENANCE, name=name) for name in FIGURES],
    log:
        log_of("figures", "figures"),
    benchmark:
        benchmark_of("figures", "figures")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        out_dir=lambda wildcards, output: str(Path(output.pdf[0]).parent),
        code_root=WORKFLOW_ROOT,
        code=CODE["analysis"],
        n_runs=len(RUNS),
        models=", ".join(config["models"]),
    script:
        "../workflow_scripts/figures.py"

"""Rule findings: the paper's three claims tested on the tidy table (findings.md) and the verdicts figure."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.pipeline import findings
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
findings(
    table_path=snakemake.input.table,  # noqa: F821
    out=snakemake.output.findings,  # noqa: F821
    config=snakemake.config,  # noqa: F821
    code_root=snakemake.params.code_root,  # noqa: F821
    fusion_table_path=snakemake.input.fusion[0] if snakemake.input.fusion else None,  # noqa: F821
    figures_dir=snakemake.params.figures_dir,  # noqa: F821
)

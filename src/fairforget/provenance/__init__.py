"""Provenance of tables and figures: what they were made from, by which code, and an audit that re-checks it.

A product `X.png`/`X.pdf` gets a sidecar `X.provenance.json`: `record` builds it (the rule, the code and package
versions, the config, the inputs and the checkpoints and base models behind them), `lineage` the graph of files
it rests on back to the raw data, `audit` re-hashes that graph, `report` prints it for a reader (the
`fairforget provenance` command). Import the submodules.
"""

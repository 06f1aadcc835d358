"""A synthetic study with its findings written, whose provenance the provenance tests follow
(tests/unit/provenance/, tests/unit/cli/test_provenance.py). Holds no tests itself."""

from __future__ import annotations

import pytest

from fairforget import pipeline
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study

CONFIG = {"analysis": {"permutations": 199}}


@pytest.fixture()
def lineage(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy(models=("bert-tiny",), objectives=("none", "cda")))
    results = paths.results
    paths.aggregate(CONFIG, summaries=False)
    pipeline.findings(results / "tables/runs.parquet", results / "findings.md", CONFIG, repo_root=tmp_path)
    return paths

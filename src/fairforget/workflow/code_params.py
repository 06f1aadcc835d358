"""The code identity of every job of a study, computed when the Snakefile is parsed (fairforget.code_identity).

Each finetune / evaluate / downstream / build_base_model job gets its identity as a rule param, so Snakemake's
params rerun trigger replans exactly the jobs whose code changed; the job passes it on into the result-store
key, the checkpoint manifest or result JSON, and from there into provenance. Which components a job has:

| rule | components |
|---|---|
| build_base_model | stage/build_base_model, model_source/<models.M.source> |
| finetune | stage/finetune, objective/<objectives.O.type>, remedy/<remedies.R.type> |
| evaluate_base, evaluate_checkpoint | stage/evaluate, metric/<each of evaluation.metrics> |
| downstream_base, downstream_finetuned | stage/downstream, downstream_mode/<the model's mode> |
| aggregate_table, findings, figures, fusion_table | stage/analysis |
| fuse | stage/fuse; evaluate_fused and downstream_fused as evaluate_checkpoint and downstream_finetuned |

On a CPU study evaluate_base, evaluate_checkpoint and evaluate_fused also run the model's downstream tasks
(rules/inputs/downstream.smk): they carry both identities, the evaluation's and the downstream one.

The data-preparation rules have none: their products are data files whose hashes enter every key and record
downstream, and a data-code edit that changed no byte would otherwise retrain everything in the same run
(Snakemake reruns the dependants of a job that reran). Force them with `snakemake -R <rule>` after such an edit.
"""

from __future__ import annotations

from typing import Any

from fairforget.code_identity import job_identity, module_fingerprint, object_fingerprint
from fairforget.errors import ConfigError

# The module each rule's script calls: its code path is the stage's shared code.
STAGE_MODULES = {
    "build_base_model": "fairforget.base_models.stage",
    "finetune": "fairforget.training.finetune",
    "evaluate": "fairforget.evaluation.stage",
    "downstream": "fairforget.downstream.stage",
    "analysis": "fairforget.pipeline",
    "fuse": "fairforget.fusion.weights",
}
# The module implementing each downstream protocol (fairforget.downstream.stage.compute_downstream).
DOWNSTREAM_MODE_MODULES = {
    "finetune": "fairforget.downstream.finetune",
    "lora": "fairforget.downstream.finetune",
    "zeroshot": "fairforget.downstream.zeroshot",
    "linear_probe": "fairforget.downstream.linear_probe",
}


def _model_modes(config: dict[str, Any]) -> dict[str, str]:
    from fairforget.downstream.settings import parse_settings

    settings = parse_settings(config.get("downstream"))
    return {
        model: settings.mode_for(cfg["kind"], cfg.get("downstream_mode"), model)
        for model, cfg in config["models"].items()
    }


def components(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fingerprint of every component the config uses, by component id (plug-ins must be loaded already)."""
    from fairforget.base_models.source import MODEL_SOURCES
    from fairforget.metrics.base import METRICS
    from fairforget.training.plugins import OBJECTIVES, REMEDIES

    found = {f"stage/{name}": module_fingerprint(module) for name, module in STAGE_MODULES.items()}
    for cfg in config["models"].values():
        found[f"model_source/{cfg['source']}"] = object_fingerprint(MODEL_SOURCES.get(cfg["source"]))
    for cfg in config["objectives"].values():
        found[f"objective/{cfg['type']}"] = object_fingerprint(OBJECTIVES.get(cfg["type"]))
    for cfg in config["remedies"].values():
        found[f"remedy/{cfg['type']}"] = object_fingerprint(REMEDIES.get(cfg["type"]))
    for name in config["evaluation"]["metrics"]:
        found[f"metric/{name}"] = object_fingerprint(METRICS.get(name))
    for mode in sorted(set(_model_modes(config).values())):
        found[f"downstream_mode/{mode}"] = module_fingerprint(DOWNSTREAM_MODE_MODULES[mode])
    return dict(sorted(found.items()))


def workflow_code(config: dict[str, Any]) -> dict[str, Any]:
    """Per rule, the identity of its jobs: build_base_model[model], finetune[objective][remedy] (config entry
    names), evaluate (one for all), downstream[model]. JSON-able (it is kept in the parse cache)."""
    found = components(config)
    pins = dict(config.get("code_pin") or {})
    unknown = sorted(set(pins) - set(found))
    if unknown:
        raise ConfigError(
            f"config key 'code_pin': no component {', '.join(unknown)} in this study; "
            f"its components: {', '.join(found)}"
        )

    def identity(*ids: str) -> dict[str, Any]:
        return job_identity({cid: found[cid] for cid in ids}, pins)

    modes = _model_modes(config)
    metrics = [f"metric/{name}" for name in config["evaluation"]["metrics"]]
    return {
        "build_base_model": {
            model: identity("stage/build_base_model", f"model_source/{cfg['source']}")
            for model, cfg in config["models"].items()
        },
        "finetune": {
            objective: {
                remedy: identity("stage/finetune", f"objective/{ocfg['type']}", f"remedy/{rcfg['type']}")
                for remedy, rcfg in config["remedies"].items()
            }
            for objective, ocfg in config["objectives"].items()
        },
        "evaluate": identity("stage/evaluate", *metrics),
        "downstream": {model: identity("stage/downstream", f"downstream_mode/{modes[model]}") for model in modes},
        "analysis": identity("stage/analysis"),
        "fuse": identity("stage/fuse"),
    }

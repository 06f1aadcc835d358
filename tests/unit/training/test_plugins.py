"""Registry, parameter validation and a training step for every objective on both model kinds."""

from __future__ import annotations

import textwrap

import pytest
import torch

from fairforget.errors import ConfigError
from fairforget.registry import load_plugins
from fairforget.training.plugins import OBJECTIVES
from objectives_helpers import context, generator, tiny

torch.set_num_threads(1)
BUILTIN = ["cda", "counterfactual_consistency", "dropout", "none", "unlikelihood"]


def test_builtin_objectives_are_registered():
    assert set(BUILTIN) <= set(OBJECTIVES.names())


def test_a_plugin_file_adds_an_objective(tmp_path):
    path = tmp_path / "throwaway_objective_plugin.py"
    path.write_text(
        textwrap.dedent("""
        from fairforget.training.objectives.none import ContinuedPretraining
        from fairforget.training.plugins import OBJECTIVES

        @OBJECTIVES.register("throwaway_test_objective")
        class Throwaway(ContinuedPretraining):
            name = "throwaway_test_objective"
    """)
    )
    assert "throwaway_test_objective" not in OBJECTIVES.names()
    load_plugins([str(path)])
    assert "throwaway_test_objective" in OBJECTIVES.names()
    assert OBJECTIVES.get("throwaway_test_objective")().name == "throwaway_test_objective"


@pytest.mark.parametrize(
    ("name", "params", "key", "allowed"),
    [
        ("cda", {"sided": "three"}, "objectives.cda.params.sided", "'two' or 'one'"),
        ("dropout", {"hidden": 1.5}, "objectives.dropout.params.hidden", "[0, 1)"),
        ("dropout", {"attention": "high"}, "objectives.dropout.params.attention", "[0, 1)"),
        ("counterfactual_consistency", {"weight": -1}, "objectives.counterfactual_consistency.params.weight", ">= 0"),
        ("unlikelihood", {"beta": 0}, "objectives.unlikelihood.params.beta", "> 0"),
        ("unlikelihood", {"lm_weight": None}, "objectives.unlikelihood.params.lm_weight", ">= 0"),
        ("none", {"sided": "two"}, "objectives.none.params.sided", "unknown parameter"),
    ],
)
def test_bad_params_raise_config_error_naming_the_key(name, params, key, allowed):
    with pytest.raises(ConfigError) as info:
        OBJECTIVES.get(name)(**params)
    assert key in str(info.value) and allowed in str(info.value)


def test_config_key_names_the_config_entry():
    with pytest.raises(ConfigError, match="objectives.cda_one_sided.params.sided"):
        OBJECTIVES.get("cda")(config_key="objectives.cda_one_sided", sided="both")


@pytest.mark.parametrize("kind", ["masked", "causal"])
@pytest.mark.parametrize("name", BUILTIN)
def test_one_training_step_of_every_objective(kind, name):
    model, tokenizer = tiny(kind)
    ctx = context(kind, tokenizer, mlm_probability=0.5)
    objective = OBJECTIVES.get(name)()
    model = objective.prepare_model(model, ctx)
    examples = objective.build_examples(ctx)
    # plus a replayed general text: every objective must accept {"type": "text"}
    examples = examples + [{"type": "text", "text": "the city is very good"}]
    batch = objective.collate(examples, ctx, generator(0))
    loss = objective.loss(model, batch, ctx)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    objective.finalize_model(model, ctx)
